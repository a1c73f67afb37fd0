// Command baseline is the ceiling keygate's benchmarks are measured against:
// a bare net/http server, standard library only, that answers the routes
// the scenarios call with the same JSON shapes as keygate and checks
// nothing at all.
//
// Usage:
//
//	baseline [-addr 127.0.0.1:9090]
//
// Routes:
//
//	POST /v1/chat     {"message"} -> 200 {"reply","key_id","tier"}
//	POST /v1/proxied  the same, as the upstream of keygate's proxy route
//	GET  /v1/keys     200 {"keys":[Key,Key]}, two fixed keys, as the bench user holds
//	GET  /healthz     200 {"status":"ok"}
//
// It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// maxBodyBytes is keygate's default request body cap.
const maxBodyBytes = 64 << 10

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9090", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// The same timeouts as keygate's server, so neither side gets a
	// cheaper connection lifecycle.
	hs := &http.Server{
		Handler:           newMux(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat", handleChat)
	mux.HandleFunc("POST /v1/proxied", handleChat)
	mux.HandleFunc("GET /v1/keys", handleKeys)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

type chatRequest struct {
	Message string `json:"message"`
}

type chatReply struct {
	Reply string `json:"reply"`
	KeyID string `json:"key_id"`
	Tier  string `json:"tier"`
}

// handleChat decodes the body as keygate does (capped, one object, no
// unknown fields) and echoes the message.
func handleChat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "detail": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, chatReply{Reply: req.Message, KeyID: "key_baseline", Tier: "basic"})
}

// key has the fields of keygate's Key object.
type key struct {
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	Prefix             string     `json:"prefix"`
	Tier               string     `json:"tier"`
	RateLimitPerMinute int        `json:"rate_limit_per_minute"`
	RateLimitPerDay    int64      `json:"rate_limit_per_day"`
	IsActive           bool       `json:"is_active"`
	CreatedAt          time.Time  `json:"created_at"`
	LastUsedAt         *time.Time `json:"last_used_at"`
	ExpiresAt          *time.Time `json:"expires_at"`
}

// handleKeys answers like keygate's GET /v1/keys for the bench user, who
// holds two keys.
func handleKeys(w http.ResponseWriter, _ *http.Request) {
	k := key{
		ID: "key_baseline", Name: "chat", Prefix: "kg_live_abcd", Tier: "basic",
		RateLimitPerMinute: 60, RateLimitPerDay: 5000, IsActive: true,
		CreatedAt: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
	}
	k2 := k
	k2.ID, k2.Name, k2.Tier = "key_baseline2", "limited", "tiny"
	writeJSON(w, http.StatusOK, map[string][]key{"keys": {k, k2}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(status)
	// The status is sent; a failed write means the client went away.
	_ = json.NewEncoder(w).Encode(v)
}
