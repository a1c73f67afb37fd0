package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/server"
)

// withUpstream replaces the test routes with proxied ones: POST /v1/chat
// and the subtree GET /v1/models/ go to upstream's /base, GET
// /v1/pro-only to its root.
func withUpstream(upstream string, timeout time.Duration) func(*server.Config) {
	return func(c *server.Config) {
		c.Routes = []server.Route{
			{Method: "POST", Path: "/v1/chat", Tiers: []string{"basic", "pro"}, Upstream: upstream + "/base", UpstreamTimeout: timeout},
			{Method: "GET", Path: "/v1/models/", Tiers: []string{"basic"}, Upstream: upstream + "/base", UpstreamTimeout: timeout},
			{Method: "GET", Path: "/v1/pro-only", Tiers: []string{"pro"}, Upstream: upstream, UpstreamTimeout: timeout},
		}
	}
}

// highLimits lets basic keys make as many requests as a test needs.
func highLimits(c *server.Config) {
	c.Tiers["basic"] = limiter.Limits{PerMinute: 1 << 30, PerDay: 1 << 50}
}

// upstreamRequest is what a recording upstream saw of one request.
type upstreamRequest struct {
	method, path, query, host, body string
	header                          http.Header
}

// recorder is an upstream that remembers the last request, counts them,
// and answers 200 with a small JSON body and an X-RateLimit-Remaining of
// its own.
type recorder struct {
	hits atomic.Int64
	mu   sync.Mutex
	last upstreamRequest
}

func (u *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body) // a short read shows up as a wrong body in the test
	u.mu.Lock()
	u.last = upstreamRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, string(body), r.Header.Clone()}
	u.mu.Unlock()
	u.hits.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-RateLimit-Remaining", "999")
	w.Header().Set("RateLimit", `"upstream";r=999;t=1`)
	w.Header().Set("X-Upstream", "yes")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"from":"upstream"}`)
}

func (u *recorder) lastRequest() upstreamRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// newRecorder starts a recording upstream, closed when the test ends.
func newRecorder(t testing.TB) (*recorder, *httptest.Server) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv
}

// proxyKey signs a user up and returns a fresh basic key.
func proxyKey(ts *testServer, email string) string {
	ts.t.Helper()
	_, pair := ts.signUp(email)
	return ts.newKey(pair.AccessToken, map[string]string{"name": "proxy"}).Key
}

// serve runs ts on a real listener, with Serve's production timeouts, until
// the test ends, and returns its base URL.
func serve(t testing.TB, ts *testServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// wantErrorResponse checks a live response's status and JSON error code.
func wantErrorResponse(t testing.TB, res *http.Response, status int, code string) {
	t.Helper()
	var e struct{ Error, Detail string }
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
		t.Fatalf("status %d, error body: %v", res.StatusCode, err)
	}
	if res.StatusCode != status || e.Error != code || e.Detail == "" {
		t.Fatalf("got %d %+v, want %d %q with a detail", res.StatusCode, e, status, code)
	}
}

func TestProxy_Headers(t *testing.T) {
	up, upSrv := newRecorder(t)
	tests := []struct {
		name    string
		trusted bool
		wantXFF string
		wantXFH string
	}{
		{"untrusted peer: its claims are dropped", false, "192.0.2.1", "example.com"},
		{"trusted proxy: its chain and host are kept", true, "203.0.113.9, 192.0.2.1", "api.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, withUpstream(upSrv.URL, 0), func(c *server.Config) {
				if tc.trusted {
					c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
				}
			})
			u, pair := ts.signUp("ada@example.com")
			k := ts.newKey(pair.AccessToken, map[string]string{"name": "proxy"})
			rec := ts.do("POST", "/v1/chat?x=1&y=two", `{"message":"hi"}`, bearer(k.Key), "X-API-Key: "+k.Key,
				"X-Keygate-User-Id: usr_admin", "X-Keygate-Tier: pro", "X-Keygate-Role: admin", "X_Keygate_Key_Id: key_forged",
				"X-Forwarded-For: 203.0.113.9", "X-Forwarded-Host: api.example.com", "Forwarded: for=6.6.6.6")
			if rec.Code != http.StatusCreated || rec.Body.String() != `{"from":"upstream"}` {
				t.Fatalf("proxied = %d %s", rec.Code, rec.Body)
			}
			got := up.lastRequest()
			if got.method != "POST" || got.path != "/base/v1/chat" || got.query != "x=1&y=two" || got.body != `{"message":"hi"}` {
				t.Errorf("upstream saw %s %s?%s %q", got.method, got.path, got.query, got.body)
			}
			if got.host != upSrv.Listener.Addr().String() {
				t.Errorf("Host = %q, want the upstream's", got.host)
			}
			wantHeaders := map[string]string{
				"X-Keygate-Key-Id":  k.ID,
				"X-Keygate-User-Id": u.ID,
				"X-Keygate-Tier":    "basic",
				"X-Forwarded-For":   tc.wantXFF,
				"X-Forwarded-Host":  tc.wantXFH,
				"X-Forwarded-Proto": "http",
				"Content-Type":      "application/json",
			}
			for name, want := range wantHeaders {
				if v := got.header.Values(name); len(v) != 1 || v[0] != want {
					t.Errorf("%s = %q, want %q", name, v, want)
				}
			}
			for name, v := range got.header {
				low := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
				if _, ok := wantHeaders[name]; !ok && (strings.HasPrefix(low, "x-keygate-") || low == "authorization" || low == "x-api-key" || low == "forwarded") {
					t.Errorf("upstream got %s: %q", name, v)
				}
			}
		})
	}
}

func TestProxy_LimitHeaders(t *testing.T) {
	_, upSrv := newRecorder(t)
	ts := newTestServer(t, withUpstream(upSrv.URL, 0))
	raw := proxyKey(ts, "ada@example.com")
	rec := ts.do("POST", "/v1/chat", `{}`, bearer(raw))
	if rec.Code != http.StatusCreated {
		t.Fatalf("status = %d: %s", rec.Code, rec.Body)
	}
	h := rec.Header()
	wantHeaders := map[string]string{
		"X-Ratelimit-Limit":     "5",
		"X-Ratelimit-Remaining": "4",
		"Ratelimit-Policy":      `"minute";q=5;w=60, "day";q=20;w=86400`,
		"X-Upstream":            "yes",
	}
	for name, want := range wantHeaders {
		if v := h.Values(name); len(v) != 1 || v[0] != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if v := h.Values("Ratelimit"); len(v) != 1 || !strings.HasPrefix(v[0], `"minute";r=4;`) {
		t.Errorf("RateLimit = %q, want keygate's only", v)
	}
}

func TestProxy_Subtree(t *testing.T) {
	up, upSrv := newRecorder(t)
	ts := newTestServer(t, withUpstream(upSrv.URL, 0))
	raw := proxyKey(ts, "ada@example.com")
	if rec := ts.do("GET", "/v1/models/gpt/info?verbose=1", nil, "X-API-Key: "+raw); rec.Code != http.StatusCreated {
		t.Fatalf("status = %d: %s", rec.Code, rec.Body)
	}
	if got := up.lastRequest(); got.method != "GET" || got.path != "/base/v1/models/gpt/info" || got.query != "verbose=1" {
		t.Errorf("upstream saw %s %s?%s", got.method, got.path, got.query)
	}
}

// TestProxy_RefusalsNeverReachUpstream: a request keygate refuses is
// answered by keygate alone.
func TestProxy_RefusalsNeverReachUpstream(t *testing.T) {
	up, upSrv := newRecorder(t)
	ts := newTestServer(t, withUpstream(upSrv.URL, 0)) // basic: 5 a minute
	raw := proxyKey(ts, "ada@example.com")
	tests := []struct {
		name, method, path string
		header             []string
		status             int
		code               string
	}{
		{"no key", "POST", "/v1/chat", nil, 401, "unauthorized"},
		{"unknown key", "POST", "/v1/chat", []string{bearer("kg_live_" + strings.Repeat("A", 43))}, 401, "unauthorized"},
		{"tier not admitted", "GET", "/v1/pro-only", []string{bearer(raw)}, 403, "forbidden"},
		{"admitted 1", "POST", "/v1/chat", []string{bearer(raw)}, 201, ""},
		{"admitted 2", "GET", "/v1/models/a", []string{bearer(raw)}, 201, ""},
		{"admitted 3", "POST", "/v1/chat", []string{bearer(raw)}, 201, ""},
		{"admitted 4", "POST", "/v1/chat", []string{bearer(raw)}, 201, ""},
		{"admitted 5", "POST", "/v1/chat", []string{bearer(raw)}, 201, ""},
		{"over the minute limit", "POST", "/v1/chat", []string{bearer(raw)}, 429, "rate_limited"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.hits.Load()
			rec := ts.do(tc.method, tc.path, `{}`, tc.header...)
			want(t, rec, tc.status, tc.code, nil)
			wantHits := int64(0)
			if tc.code == "" {
				wantHits = 1
			}
			if hits := up.hits.Load() - before; hits != wantHits {
				t.Errorf("upstream hits = %d, want %d", hits, wantHits)
			}
		})
	}
}

// TestProxy_Streaming: a streamed response reaches the client as the
// upstream produces it, through Serve's real timeouts.
func TestProxy_Streaming(t *testing.T) {
	tests := []struct{ name, contentType string }{
		{"event stream", "text/event-stream"},
		{"chunked, unknown length", "application/x-ndjson"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			firstRead := make(chan struct{})
			upSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				io.WriteString(w, "data: one\n\n")
				w.(http.Flusher).Flush()
				select {
				case <-firstRead:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, "data: two\n\n")
			}))
			t.Cleanup(upSrv.Close)
			ts := newTestServer(t, withUpstream(upSrv.URL, 0))
			raw := proxyKey(ts, "ada@example.com")
			base := serve(t, ts)

			req, _ := http.NewRequest("POST", base+"/v1/chat", strings.NewReader(`{}`))
			req.Header.Set("X-API-Key", raw)
			client := &http.Client{Timeout: 5 * time.Second} // a buffered stream would hang here
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != tc.contentType || res.Header.Get("X-RateLimit-Remaining") != "4" {
				t.Fatalf("response = %d %v", res.StatusCode, res.Header)
			}
			br := bufio.NewReader(res.Body)
			if got := readEvent(t, br); got != "data: one" {
				t.Fatalf("first event = %q", got)
			}
			close(firstRead)
			if got := readEvent(t, br); got != "data: two" {
				t.Fatalf("second event = %q", got)
			}
		})
	}
}

// readEvent reads one "line\n\n" event and returns the line.
func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading event: %v (read %q)", err, line)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\n" {
		t.Fatalf("event terminator = %q, %v", blank, err)
	}
	return strings.TrimSuffix(line, "\n")
}

func TestProxy_UpstreamFailures(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that net/http notices keygate hanging up
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	tests := []struct {
		name, upstream string
		status         int
		code, logged   string
	}{
		{"listener closed", closed.URL, 502, "bad_gateway", "connection refused"},
		{"headers later than the timeout", slow.URL, 504, "gateway_timeout", "timeout awaiting response headers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &lockedWriter{}
			ts := newTestServer(t, withUpstream(tc.upstream, 200*time.Millisecond), func(c *server.Config) {
				c.Logger = slog.New(slog.NewTextHandler(logs, nil))
			})
			raw := proxyKey(ts, "ada@example.com")
			start := time.Now()
			rec := ts.do("POST", "/v1/chat", `{}`, bearer(raw))
			want(t, rec, tc.status, tc.code, nil)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v", took)
			}
			if rec.Header().Get("X-RateLimit-Remaining") != "4" {
				t.Errorf("error lacks the rate-limit headers: %v", rec.Header())
			}
			if strings.Contains(rec.Body.String(), "127.0.0.1") {
				t.Errorf("error names the upstream: %s", rec.Body)
			}
			logs.mu.Lock()
			defer logs.mu.Unlock()
			if out := logs.buf.String(); !strings.Contains(out, tc.code) || !strings.Contains(out, tc.logged) {
				t.Errorf("log lacks the cause %q:\n%s", tc.logged, out)
			}
		})
	}
}

// TestProxy_ClientCancel: a client that goes away cancels the upstream
// call.
func TestProxy_ClientCancel(t *testing.T) {
	started, cancelled := make(chan struct{}), make(chan struct{})
	upSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// net/http notices a closed connection only once the body is read.
		io.Copy(io.Discard, r.Body)
		close(started)
		<-r.Context().Done()
		close(cancelled)
	}))
	t.Cleanup(upSrv.Close)
	ts := newTestServer(t, withUpstream(upSrv.URL, 0))
	raw := proxyKey(ts, "ada@example.com")
	base := serve(t, ts)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/chat", strings.NewReader(`{}`))
	req.Header.Set("X-API-Key", raw)
	errc := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the upstream")
	}
	cancel()
	select {
	case <-cancelled:
	case <-time.After(time.Second):
		t.Fatal("the upstream call was not cancelled within a second")
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error = %v", err)
	}
}

// TestProxy_ConnectionReuse: sequential requests share one upstream
// connection.
func TestProxy_ConnectionReuse(t *testing.T) {
	var conns atomic.Int64
	upSrv := httptest.NewUnstartedServer(&recorder{})
	upSrv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	upSrv.Start()
	t.Cleanup(upSrv.Close)
	ts := newTestServer(t, withUpstream(upSrv.URL, 0), highLimits)
	raw := proxyKey(ts, "ada@example.com")
	for i := range 50 {
		if rec := ts.do("POST", "/v1/chat", fmt.Sprintf(`{"n":%d}`, i), bearer(raw)); rec.Code != http.StatusCreated {
			t.Fatalf("request %d = %d: %s", i, rec.Code, rec.Body)
		}
	}
	if n := conns.Load(); n > 2 {
		t.Errorf("50 sequential requests opened %d upstream connections", n)
	}
}

// TestProxy_BodyTooLarge: max_body_bytes holds for proxied routes, whether
// the client declares the length or streams the body.
func TestProxy_BodyTooLarge(t *testing.T) {
	up, upSrv := newRecorder(t)
	ts := newTestServer(t, withUpstream(upSrv.URL, 0), highLimits) // MaxBodyBytes: 4096
	raw := proxyKey(ts, "ada@example.com")
	base := serve(t, ts)
	big := strings.Repeat("x", 64<<10)
	tests := []struct {
		name string
		body io.Reader
	}{
		{"declared length", strings.NewReader(big)},
		{"chunked", io.MultiReader(strings.NewReader(big))}, // unknown length: sent chunked
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", base+"/v1/chat", tc.body)
			req.Header.Set("X-API-Key", raw)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			wantErrorResponse(t, res, 413, "payload_too_large")
		})
	}
	if got := up.lastRequest(); len(got.body) > 4096 {
		t.Errorf("upstream received %d bytes", len(got.body))
	}
	// A body within the limit still gets through.
	req, _ := http.NewRequest("POST", base+"/v1/chat", io.MultiReader(strings.NewReader(big[:4096])))
	req.Header.Set("X-API-Key", raw)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || len(up.lastRequest().body) != 4096 {
		t.Errorf("a 4096-byte chunked body = %d, upstream got %d bytes", res.StatusCode, len(up.lastRequest().body))
	}
}

func TestNew_BadUpstream(t *testing.T) {
	ts := newTestServer(t)
	for _, upstream := range []string{"ftp://example.com", "http://", "example.com:80", "http://u:p@example.com", "http://example.com?a=1", "http://example.com#f"} {
		t.Run(upstream, func(t *testing.T) {
			cfg := ts.config
			cfg.Routes = []server.Route{{Method: "POST", Path: "/v1/up", Tiers: []string{"basic"}, Upstream: upstream}}
			if _, err := server.New(cfg, ts.db, nil, nil); err == nil {
				t.Fatalf("upstream %q was accepted", upstream)
			}
		})
	}
}
