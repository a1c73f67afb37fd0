package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/server"
)

func TestNoRoute(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/nope", 404, "not_found", ""},
		{"GET", "/v1/keys/a/b/c", 404, "not_found", ""},
		{"DELETE", "/v1/me", 405, "method_not_allowed", "GET, HEAD"},
		{"PUT", "/v1/keys", 405, "method_not_allowed", "GET, HEAD, POST"},
		{"GET", "/v1/auth/login", 405, "method_not_allowed", "POST"},
		{"GET", "/v1/chat", 405, "method_not_allowed", "POST"},
		{"PATCH", "/v1/keys/key_x", 405, "method_not_allowed", "GET, HEAD, DELETE"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := ts.do(tc.method, tc.path, nil)
			want(t, rec, tc.status, tc.code, nil)
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestHealthAndIndex(t *testing.T) {
	ts := newTestServer(t)
	var health struct{ Status string }
	want(t, ts.do("GET", "/healthz", nil), 200, "", &health)
	if health.Status != "ok" {
		t.Errorf("health = %+v", health)
	}
	rec := ts.do("GET", "/", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "keygate") ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("GET / = %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	want(t, ts.do("GET", "/index.html", nil), 404, "not_found", nil)
}

func TestNew_RouteClash(t *testing.T) {
	ts := newTestServer(t)
	cfg := ts.config
	cfg.Routes = append(cfg.Routes, server.Route{Method: "GET", Path: "/v1/keys", Tiers: []string{"basic"}})
	if _, err := server.New(cfg, ts.db, nil, nil); err == nil {
		t.Fatal("a route clashing with GET /v1/keys was accepted")
	}
}

// TestServe runs the full stack on a real listener: requests through
// net/http, then a graceful shutdown that flushes the counters.
func TestServe(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.FlushInterval = time.Hour })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	post := func(path, body string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		for _, h := range header {
			name, value, _ := strings.Cut(h, ": ")
			req.Header.Set(name, value)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	decode := func(res *http.Response, v any) {
		t.Helper()
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	creds := `{"email":"ada@example.com","password":"` + testPassword + `"}`
	if res := post("/v1/auth/register", creds); res.StatusCode != 201 {
		t.Fatalf("register = %d", res.StatusCode)
	}
	var pair tokenPair
	decode(post("/v1/auth/login", creds), &pair)
	var k key
	decode(post("/v1/keys", `{"name":"e2e"}`, bearer(pair.AccessToken)), &k)
	for range 3 {
		if res := post("/v1/chat", `{"message":"hi"}`, "X-API-Key: "+k.Key); res.StatusCode != 200 {
			t.Fatalf("chat = %d", res.StatusCode)
		}
	}
	// A body larger than the limit is refused with 413, not read in full.
	big := post("/v1/chat", `{"message":"`+strings.Repeat("x", 1<<20)+`"}`, "X-API-Key: "+k.Key)
	if big.StatusCode != 413 {
		t.Fatalf("big body = %d", big.StatusCode)
	}
	io.Copy(io.Discard, big.Body)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still accepting after shutdown")
	}
	// The flush interval is an hour: only the shutdown flush can have
	// written these counts.
	u, _ := ts.db.UserByEmail(context.Background(), "ada@example.com")
	keys, err := ts.db.APIKeysByUser(context.Background(), u.ID)
	if err != nil || len(keys) != 1 {
		t.Fatal(keys, err)
	}
	n, err := ts.db.UsageCount(context.Background(), keys[0].Lineage, ts.clock.Now())
	if err != nil || n != 4 {
		t.Errorf("count after shutdown = %d, %v; want 4 (3 echoes + the 413, which was admitted)", n, err)
	}
	if keys[0].LastUsedAt.IsZero() {
		t.Error("last_used_at not flushed on shutdown")
	}
}

// Reload swaps tiers and routes for the next request; a bad table changes
// nothing.
func TestReload(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	want(t, ts.chat(k.Key), 200, "", nil)

	clash := []server.Route{{Method: "GET", Path: "/v1/keys", Tiers: []string{"basic"}}}
	if err := ts.Reload(ts.config.Tiers, clash); err == nil {
		t.Fatal("a route clashing with GET /v1/keys was accepted")
	}
	unknown := []server.Route{{Method: "POST", Path: "/v1/chat", Tiers: []string{"gold"}}}
	if err := ts.Reload(ts.config.Tiers, unknown); err == nil {
		t.Fatal("a route with an unknown tier was accepted")
	}
	want(t, ts.chat(k.Key), 200, "", nil) // unchanged

	tiers := map[string]limiter.Limits{"basic": {PerMinute: 1, PerDay: 10}}
	routes := []server.Route{{Method: "POST", Path: "/v1/echo", Tiers: []string{"basic"}}}
	if err := ts.Reload(tiers, routes); err != nil {
		t.Fatal(err)
	}
	want(t, ts.chat(k.Key), 404, "not_found", nil)
	rec := ts.do("POST", "/v1/echo", `{}`, bearer(k.Key))
	want(t, rec, 200, "", nil)
	if rec.Header().Get("X-RateLimit-Limit") != "1" {
		t.Errorf("limit after reload = %q", rec.Header().Get("X-RateLimit-Limit"))
	}
	var got key
	want(t, ts.do("GET", "/v1/keys/"+k.ID, nil, bearer(pair.AccessToken)), 200, "", &got)
	if got.RateLimitPerMinute != 1 {
		t.Errorf("key shows %d/min after reload", got.RateLimitPerMinute)
	}
}
