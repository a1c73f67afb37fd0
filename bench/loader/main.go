// Command loader fills a keygate database with users that each hold one API
// key, in batched write transactions, for the scale benchmark.
//
// Usage:
//
//	loader -db FILE [-users 1000000] [-batch 20000] [-keys-out FILE] [-active 100000]
//
// The raw keys of the first -active users are written to -keys-out, one a
// line, for the load generator; the others are thrown away. Every user has
// the same bcrypt hash (made once, of a random password nobody knows), since
// the scale benchmark logs no one in. The database must not be in use.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/storage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loader:", err)
		os.Exit(1)
	}
}

// options are the loader's flags.
type options struct {
	db, keysOut, prefix, tier string
	users, batch, active      int
}

func parse(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("loader", flag.ContinueOnError)
	fs.StringVar(&o.db, "db", "", "database file (created if missing)")
	fs.StringVar(&o.keysOut, "keys-out", "", "file for the raw keys of the first -active users (empty: none)")
	fs.StringVar(&o.prefix, "prefix", "kg_live_", "API key prefix, as keys.prefix in keygate's config")
	fs.StringVar(&o.tier, "tier", "basic", "tier of every key")
	fs.IntVar(&o.users, "users", 1000000, "users to create, one key each")
	fs.IntVar(&o.batch, "batch", 20000, "users (and keys) per write transaction")
	fs.IntVar(&o.active, "active", 100000, "raw keys written to -keys-out")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.db == "" || o.users < 1 || o.batch < 1 {
		return o, errors.New("-db is required; -users and -batch must be positive")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	db, err := storage.Open(o.db, storage.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	out, flush, err := keysFile(o.keysOut)
	if err != nil {
		return err
	}
	defer flush()
	start := time.Now()
	if err := load(ctx, db, o, out); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Fprintf(stdout, "loaded %d users and keys in %.1fs (%.0f/s)\n", o.users, d.Seconds(), float64(o.users)/d.Seconds())
	return nil
}

// keysFile opens path for the raw keys; an empty path discards them.
// flush writes out what is buffered and closes the file; it may be called
// more than once.
func keysFile(path string) (w *bufio.Writer, flush func() error, err error) {
	if path == "" {
		return bufio.NewWriter(io.Discard), func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, err
	}
	w = bufio.NewWriter(f)
	closed := false
	return w, func() error {
		if closed {
			return nil
		}
		closed = true
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}

// load writes o.users users and keys in batches of o.batch.
func load(ctx context.Context, db *storage.DB, o options, out *bufio.Writer) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for done := 0; done < o.users; done += o.batch {
		n := min(o.batch, o.users-done)
		users, keys, raws, err := makeBatch(o, done, n, hash, now)
		if err != nil {
			return err
		}
		if err := db.CreateUsers(ctx, users); err != nil {
			return err
		}
		if err := db.CreateAPIKeys(ctx, keys); err != nil {
			return err
		}
		for i, raw := range raws {
			if done+i < o.active {
				fmt.Fprintln(out, raw)
			}
		}
	}
	return nil
}

// makeBatch makes users first..first+n-1, each with one key.
func makeBatch(o options, first, n int, hash []byte, now time.Time) ([]storage.User, []storage.APIKey, []string, error) {
	users := make([]storage.User, n)
	keys := make([]storage.APIKey, n)
	raws := make([]string, n)
	for i := range n {
		uid, err := auth.NewID("usr_", nil)
		if err != nil {
			return nil, nil, nil, err
		}
		kid, err := auth.NewID("key_", nil)
		if err != nil {
			return nil, nil, nil, err
		}
		raw, h, display, err := auth.NewKey(o.prefix, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		users[i] = storage.User{
			ID: uid, Email: fmt.Sprintf("user%07d@bench.example", first+i), PasswordHash: hash,
			Role: "user", Tiers: []string{o.tier}, CreatedAt: now,
		}
		keys[i] = storage.APIKey{
			ID: kid, UserID: uid, Name: "bench", Prefix: display, Tier: o.tier,
			Hash: h, CreatedAt: now,
		}
		raws[i] = raw
	}
	return users, keys, raws, nil
}
