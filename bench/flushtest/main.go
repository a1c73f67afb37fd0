// Command flushtest measures keygate's write-behind flush at scale: how long
// storage.Flush takes to write N dirty daily counters (and, as a request
// also leaves behind, N last-used times), and what that does to the latency
// of requests served meanwhile.
//
// Usage:
//
//	flushtest time  -db FILE -keys FILE [-n 100000] [-rounds 7]
//	flushtest serve -db FILE -keys FILE [-n 100000] [-addr 127.0.0.1:9191] [-every 1s] [-for 20s] [-memprofile FILE]
//
// keys is a file of raw API keys stored in db, one a line (the loader's
// -keys-out); the first n name the counters to flush. "time" flushes the
// same n counters rounds times, each round with higher counts, and prints
// the median and worst duration, with and without last-used times. "serve"
// runs keygate's server in this process on addr (every key of tier basic,
// limits that never refuse, POST /v1/chat) and, when every is positive,
// flushes n counters and last-used times every interval, the batch keygate's
// own flusher would write after n keys were used; it stops after -for and
// prints the flush durations. The database must not be in use elsewhere.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/storage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "flushtest:", err)
		os.Exit(1)
	}
}

// options are the flags of both modes.
type options struct {
	db, keys, addr string
	memprofile     string
	n, rounds      int
	every, dur     time.Duration
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "time" && args[0] != "serve") {
		return errors.New("usage: flushtest time|serve -db FILE -keys FILE [flags]")
	}
	mode := args[0]
	var o options
	fs := flag.NewFlagSet("flushtest "+mode, flag.ContinueOnError)
	fs.StringVar(&o.db, "db", "", "database file")
	fs.StringVar(&o.keys, "keys", "", "file of raw keys stored in db, one a line")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9191", "serve: address to listen on")
	fs.IntVar(&o.n, "n", 100000, "dirty counters per flush")
	fs.IntVar(&o.rounds, "rounds", 7, "time: flushes of each kind")
	fs.DurationVar(&o.every, "every", time.Second, "serve: flush interval; 0: no extra flushes")
	fs.DurationVar(&o.dur, "for", 20*time.Second, "serve: how long to serve")
	fs.StringVar(&o.memprofile, "memprofile", "", "serve: write a heap profile here on exit (after a GC)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, err := storage.Open(o.db, storage.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := loadKeys(ctx, db, o.keys, o.n)
	if err != nil {
		return err
	}
	if mode == "time" {
		return timeFlushes(ctx, db, keys, o.rounds, stdout)
	}
	return serve(ctx, db, keys, o, stdout)
}

// loadKeys reads up to n raw keys from path and looks each one up.
func loadKeys(ctx context.Context, db *storage.DB, path string, n int) ([]storage.APIKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys []storage.APIKey
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(keys) < n {
		k, err := db.APIKeyByHash(ctx, [32]byte(auth.HashKey(sc.Text())))
		if err != nil {
			return nil, fmt.Errorf("key on line %d: %w", len(keys)+1, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) < n {
		return nil, fmt.Errorf("%s holds %d keys, want %d", path, len(keys), n)
	}
	return keys, nil
}

// batch is what keygate's flusher writes after every key in keys was used
// count times today: one daily count per lineage and, with lastUsed, the
// last-used time of every key.
func batch(keys []storage.APIKey, count int64, now time.Time, lastUsed bool) storage.Batch {
	var b storage.Batch
	b.Usage = make([]storage.Usage, len(keys))
	for i, k := range keys {
		b.Usage[i] = storage.Usage{Lineage: k.Lineage, Day: now, Count: count}
	}
	if lastUsed {
		b.Keys = make([]storage.LastUsed, len(keys))
		for i, k := range keys {
			b.Keys[i] = storage.LastUsed{ID: k.ID, At: now}
		}
	}
	return b
}

// timeFlushes times rounds flushes of counters alone, then rounds of
// counters with last-used times.
func timeFlushes(ctx context.Context, db *storage.DB, keys []storage.APIKey, rounds int, stdout io.Writer) error {
	count := time.Now().UnixNano() / int64(time.Millisecond) // above anything stored before
	for _, withLastUsed := range []bool{false, true} {
		var ds []time.Duration
		for range rounds {
			count++
			b := batch(keys, count, time.Now(), withLastUsed)
			start := time.Now()
			if err := db.Flush(ctx, b); err != nil {
				return err
			}
			ds = append(ds, time.Since(start))
		}
		fmt.Fprintf(stdout, "flush n=%d last_used=%v %s\n", len(keys), withLastUsed, summary(ds))
	}
	return nil
}

// summary is "median_ms=M max_ms=X rounds=N".
func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "rounds=0"
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return fmt.Sprintf("median_ms=%.1f max_ms=%.1f rounds=%d", ms(ds[len(ds)/2]), ms(ds[len(ds)-1]), len(ds))
}

// serve runs keygate's server on o.addr for o.dur, flushing a batch of
// keys every o.every meanwhile.
func serve(ctx context.Context, db *storage.DB, keys []storage.APIKey, o options, stdout io.Writer) error {
	srv, err := newServer(db)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.dur)
	defer cancel()
	flushed := make(chan []time.Duration, 1)
	go func() { flushed <- flushEvery(ctx, db, keys, o.every) }()
	err = srv.Serve(ctx, ln)
	ds := <-flushed
	fmt.Fprintf(stdout, "serve flush n=%d every=%s %s\n", len(keys), o.every, summary(ds))
	if err != nil || o.memprofile == "" {
		return err
	}
	return writeHeapProfile(o.memprofile, srv)
}

// writeHeapProfile writes the live heap to path. srv is kept alive until
// then, so what it holds in memory is in the profile.
func writeHeapProfile(path string, srv *server.Server) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	runtime.KeepAlive(srv)
	return f.Close()
}

// flushEvery flushes a batch of keys (counters and last-used times) every
// interval until ctx is done, and returns how long each flush took.
func flushEvery(ctx context.Context, db *storage.DB, keys []storage.APIKey, every time.Duration) []time.Duration {
	if every <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	count := time.Now().UnixNano() / int64(time.Millisecond)
	var ds []time.Duration
	for {
		select {
		case <-ctx.Done():
			return ds
		case <-t.C:
		}
		count++
		b := batch(keys, count, time.Now(), true)
		start := time.Now()
		if err := db.Flush(ctx, b); err != nil {
			return ds // only a cancelled context ends a flush early here
		}
		ds = append(ds, time.Since(start))
	}
}

// newServer is keygate's server as the benchmark configures it: the
// basic tier with limits that never refuse, and the echo at POST /v1/chat.
func newServer(db *storage.DB) (*server.Server, error) {
	tokens, err := auth.NewTokens(auth.TokenOptions{
		Secret: []byte(rand.Text() + rand.Text()), Issuer: "keygate", AccessTTL: 30 * time.Minute, RefreshTTL: time.Hour,
	})
	if err != nil {
		return nil, err
	}
	passwords, err := auth.NewHasher(4) // nobody logs in here
	if err != nil {
		return nil, err
	}
	return server.New(server.Config{
		Tiers:  map[string]limiter.Limits{"basic": {PerMinute: 1 << 30, PerDay: 1 << 50}},
		Routes: []server.Route{{Method: "POST", Path: "/v1/chat", Tiers: []string{"basic"}}},
		Logger: slog.New(slog.DiscardHandler),
	}, db, tokens, passwords)
}
