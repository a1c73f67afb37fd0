// Command flushtest measures keygate's write-behind flush at scale: how long
// the server's flush takes to write N dirty daily counters (and, as a
// request also leaves behind, N last-used times), and what that does to the
// latency of requests served meanwhile.
//
// Usage:
//
//	flushtest time  -db FILE -keys FILE [-n 100000] [-rounds 7] [-cpuprofile FILE]
//	flushtest serve -db FILE -keys FILE [-n 100000] [-addr 127.0.0.1:9191] [-every 1s] [-lastused-every 1m] [-for 20s] [-pace=false] [-memprofile FILE] [-trace FILE]
//
// keys is a file of raw API keys stored in db, one a line (the loader's
// -keys-out); the first n are used. "time" runs keygate's server in this
// process, sends one request with each of the n keys through its handler
// (untimed), then times the server's Flush, rounds times each: with the
// server's clock still ("last_used=false": only the counters are dirty, as
// in the flushes between two writes of a last-used time) and with the clock
// a minute on each round ("last_used=true": every key's last-used time is
// due too, which keygate writes at most once a minute per key). It prints
// the median and worst duration of each, and the median processor time
// the process spent in it, which other load on the machine barely moves. "serve" runs keygate's server in
// this process on addr (every key of tier basic, limits that never refuse,
// POST /v1/chat) and, when every is positive, writes every interval the
// batch keygate's flusher writes after n keys were used: n counters, plus
// the n last-used times on the first flush and every lastused-every after
// it. It stops after -for and prints the flush durations. The database
// must not be in use elsewhere.
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
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"sync/atomic"
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
	cpuprofile     string
	trace          string
	pace           bool
	n, rounds      int
	every, dur     time.Duration
	lastUsedEvery  time.Duration
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
	fs.DurationVar(&o.lastUsedEvery, "lastused-every", time.Minute, "serve: how often the batch holds the last-used times too (keygate's granularity)")
	fs.DurationVar(&o.dur, "for", 20*time.Second, "serve: how long to serve")
	fs.StringVar(&o.memprofile, "memprofile", "", "serve: write a heap profile here on exit (after a GC)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the run here")
	fs.BoolVar(&o.pace, "pace", true, "serve: pace each flush as keygate's flusher does (false: flat out, to compare)")
	fs.StringVar(&o.trace, "trace", "", "serve: write a runtime trace of 3s of serving, from 3s after the start, here")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	db, err := storage.Open(o.db, storage.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	raws, err := readKeys(o.keys, o.n)
	if err != nil {
		return err
	}
	if o.cpuprofile != "" {
		stop, err := startCPUProfile(o.cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if mode == "time" {
		return timeFlushes(ctx, db, raws, o.rounds, stdout)
	}
	return serve(ctx, db, raws, o, stdout)
}

// readKeys reads the first n raw keys of the file at path.
func readKeys(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var raws []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(raws) < n {
		raws = append(raws, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(raws) < n {
		return nil, fmt.Errorf("%s holds %d keys, want %d", path, len(raws), n)
	}
	return raws, nil
}

// loadKeys looks each raw key up.
func loadKeys(ctx context.Context, db *storage.DB, raws []string) ([]storage.APIKey, error) {
	keys := make([]storage.APIKey, 0, len(raws))
	for i, raw := range raws {
		k, err := db.APIKeyByHash(ctx, [32]byte(auth.HashKey(raw)))
		if err != nil {
			return nil, fmt.Errorf("key on line %d: %w", i+1, err)
		}
		keys = append(keys, k)
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

// timeFlushes times the server's Flush after one request with each key:
// rounds flushes with the clock still, so only counters are dirty, then
// rounds with the clock a minute on, so every last-used time is due too.
func timeFlushes(ctx context.Context, db *storage.DB, raws []string, rounds int, stdout io.Writer) error {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	srv, err := newServer(db, func() time.Time { return time.Unix(0, clock.Load()) })
	if err != nil {
		return err
	}
	// Warm up: every key into memory, its first use written, the minute's
	// pruning done.
	if err := useKeys(srv, raws); err != nil {
		return err
	}
	if err := srv.Flush(ctx); err != nil {
		return err
	}
	for _, withLastUsed := range []bool{false, true} {
		var ds, cpu []time.Duration
		for range rounds {
			if withLastUsed {
				clock.Add(int64(time.Minute + time.Second))
			}
			if err := useKeys(srv, raws); err != nil {
				return err
			}
			runtime.GC() // the requests' garbage is not the flush's to collect
			start, startCPU := time.Now(), cpuTime()
			if err := srv.Flush(ctx); err != nil {
				return err
			}
			ds, cpu = append(ds, time.Since(start)), append(cpu, cpuTime()-startCPU)
		}
		slices.Sort(cpu)
		fmt.Fprintf(stdout, "flush n=%d last_used=%v %s cpu_median_ms=%.1f\n", len(raws), withLastUsed, summary(ds), ms(cpu[len(cpu)/2]))
	}
	return nil
}

// useKeys sends one chat request with each raw key through srv's handler.
func useKeys(srv *server.Server, raws []string) error {
	for _, raw := range raws {
		r := httptest.NewRequest(http.MethodPost, "/v1/chat", strings.NewReader(`{"message":"hi"}`))
		r.Header.Set("Authorization", "Bearer "+raw)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			return fmt.Errorf("chat answered %d: %s", w.Code, w.Body)
		}
	}
	return nil
}

// summary is "median_ms=M max_ms=X rounds=N".
func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "rounds=0"
	}
	slices.Sort(ds)
	return fmt.Sprintf("median_ms=%.1f max_ms=%.1f rounds=%d", ms(ds[len(ds)/2]), ms(ds[len(ds)-1]), len(ds))
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// serve runs keygate's server on o.addr for o.dur, flushing a batch of
// keys every o.every meanwhile.
func serve(ctx context.Context, db *storage.DB, raws []string, o options, stdout io.Writer) error {
	keys, err := loadKeys(ctx, db, raws)
	if err != nil {
		return err
	}
	srv, err := newServer(db, nil)
	if err != nil {
		return err
	}
	// Quiet or flushing, the process holds the same memory, so that only
	// the flushing differs and not what the collector marks and sweeps:
	// the server knows every key, as one that writes this many counters
	// a second does, and the batch is built either way. The key records
	// it is built from are let go; the server keeps none of them. Their
	// first use is written now, not in the measured window.
	if err := useKeys(srv, raws); err != nil {
		return err
	}
	if err := srv.Flush(ctx); err != nil {
		return err
	}
	all := batch(keys, time.Now().UnixNano()/int64(time.Millisecond), time.Now(), true)
	keys = nil
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.dur)
	defer cancel()
	flushed := make(chan []time.Duration, 1)
	pace := srv.Pace
	if !o.pace {
		pace = func() func() { return nil }
	}
	go func() { flushed <- flushEvery(ctx, db, pace, all, o.every, o.lastUsedEvery) }()
	if o.trace != "" {
		go traceWindow(ctx, o.trace, 3*time.Second, 3*time.Second)
	}
	err = srv.Serve(ctx, ln)
	ds := <-flushed
	fmt.Fprintf(stdout, "serve flush n=%d every=%s %s\n", len(all.Usage), o.every, summary(ds))
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

// flushEvery writes all every interval until ctx is done, and returns how
// long each write took. Each batch holds all's counters, each one higher
// than before; the first, and then one every lastUsedEvery, holds its
// last-used times too, as keygate's flusher writes a time once it moved a
// minute. Like keygate's flusher, it keeps its batch's arrays from one
// flush to the next, and paces each flush with pace (Server.Pace). With
// no interval it writes nothing, but holds all until ctx is done.
func flushEvery(ctx context.Context, db *storage.DB, pace func() func(), all storage.Batch, every, lastUsedEvery time.Duration) []time.Duration {
	if every <= 0 {
		<-ctx.Done()
		runtime.KeepAlive(all)
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	count := time.Now().UnixNano() / int64(time.Millisecond) // above what the warm-up wrote
	var ds []time.Duration
	var lastUsedAt time.Time
	for {
		select {
		case <-ctx.Done():
			return ds
		case <-t.C:
		}
		count++
		now := time.Now()
		b := storage.Batch{Usage: all.Usage, Pace: pace()}
		for i := range b.Usage {
			b.Usage[i].Day, b.Usage[i].Count = now, count
		}
		if now.Sub(lastUsedAt) >= lastUsedEvery {
			lastUsedAt = now
			b.Keys = all.Keys
			for i := range b.Keys {
				b.Keys[i].At = now
			}
		}
		start := time.Now()
		if err := db.Flush(ctx, b); err != nil {
			return ds // only a cancelled context ends a flush early here
		}
		ds = append(ds, time.Since(start))
	}
}

// newServer is keygate's server as the benchmark configures it: the
// basic tier with limits that never refuse, and the echo at POST /v1/chat.
// now is its clock; nil: time.Now.
func newServer(db *storage.DB, now func() time.Time) (*server.Server, error) {
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
		Now:    now,
	}, db, tokens, passwords)
}

// traceWindow writes a runtime trace of the span from after until
// after+span to path, or until ctx is done. The trace shows which
// goroutine held the processor while requests waited.
func traceWindow(ctx context.Context, path string, after, span time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(after):
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flushtest:", err)
		return
	}
	defer f.Close()
	if err := trace.Start(f); err != nil {
		fmt.Fprintln(os.Stderr, "flushtest:", err)
		return
	}
	defer trace.Stop()
	select {
	case <-ctx.Done():
	case <-time.After(span):
	}
}

// startCPUProfile profiles the process into path until the returned stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
