// Command bcryptrate measures the rate of bare bcrypt.CompareHashAndPassword
// at a given cost, sequentially on one goroutine: the ceiling of keygate's
// login scenario when both are pinned to one core.
//
// Usage:
//
//	bcryptrate [-cost 12] [-duration 10s]
//
// It prints "compares=N seconds=S rate=R" (R in compares per second).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bcryptrate:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bcryptrate", flag.ContinueOnError)
	cost := fs.Int("cost", 12, "bcrypt cost, as passwords.bcrypt_cost in keygate's config")
	d := fs.Duration("duration", 10*time.Second, "how long to measure")
	if err := fs.Parse(args); err != nil {
		return err
	}
	password := []byte("correct horse battery staple")
	hash, err := bcrypt.GenerateFromPassword(password, *cost)
	if err != nil {
		return err
	}
	n := 0
	start := time.Now()
	for time.Since(start) < *d {
		if err := bcrypt.CompareHashAndPassword(hash, password); err != nil {
			return errors.New("compare failed on the right password")
		}
		n++
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "compares=%d seconds=%.3f rate=%.3f\n", n, secs, float64(n)/secs)
	return nil
}
