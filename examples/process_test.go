package examples_test

import (
	"bufio"
	"bytes"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startWatched starts cmd, stops it (SIGTERM, then SIGKILL) on cleanup,
// keeps what it prints on stderr and, if line is not nil, sends the first
// submatch of the first line of stderr that matches it.
func startWatched(t *testing.T, cmd *exec.Cmd, line *regexp.Regexp) (<-chan string, *syncBuffer) {
	t.Helper()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log, found, exited := new(syncBuffer), make(chan string, 1), make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if line == nil {
				continue
			}
			if m := line.FindStringSubmatch(sc.Text()); m != nil && len(found) == 0 {
				found <- m[1]
			}
		}
		// Wait may only be called once the pipe is read to the end. Its
		// error is a stopped process's exit status, which says nothing.
		_ = cmd.Wait()
	}()
	t.Cleanup(func() { stop(t, cmd, exited) })
	return found, log
}

// stop asks a process to exit and kills it if it has not within 5 seconds.
func stop(t *testing.T, cmd *exec.Cmd, exited <-chan struct{}) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return // already gone
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Errorf("%s ignored SIGTERM; killing it", filepath.Base(cmd.Path))
		_ = cmd.Process.Kill() // best effort: Wait below reports nothing either way
		<-exited
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening polls addr until it accepts a connection or within passes.
func waitListening(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a log the reading goroutine and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
