package server_test

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/server"
)

// BenchmarkProtectedRoute is the full handler chain of POST /v1/chat with
// a warm key and limits that never refuse. It counts the harness's own
// allocations (the recorder, the cloned request) too; BenchmarkChatHandler
// leaves them out.
func BenchmarkProtectedRoute(b *testing.B) {
	ts, key := openKey(b)
	body := `{"message":"hello"}`
	req := httptest.NewRequest("POST", "/v1/chat", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := req.Clone(req.Context())
		r.Body = nopCloser{strings.NewReader(body)}
		rec := httptest.NewRecorder()
		ts.ServeHTTP(rec, r)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkChatHandler is POST /v1/chat answered 200 with a warm key,
// counting only what the server allocates: the request and the
// ResponseWriter are reused.
func BenchmarkChatHandler(b *testing.B) {
	ts, key := openKey(b)
	benchChat(b, ts, []string{key}, http.StatusOK)
}

// BenchmarkRejectUnknownKey is POST /v1/chat answered 401: each request
// brings a well-formed key never seen before, as a key-guessing client
// would.
func BenchmarkRejectUnknownKey(b *testing.B) {
	ts := newTestServer(b)
	// More keys than the cache of unknown hashes holds, so every lookup
	// misses it however often the pool is cycled.
	rng := rand.NewChaCha8([32]byte{6})
	keys := make([]string, 1<<17)
	for i := range keys {
		raw, _, _, err := auth.NewKey("kg_live_", rng)
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = raw
	}
	ts.WaitKeyFilter() // so every refusal is answered from memory
	benchChat(b, ts, keys, http.StatusUnauthorized)
}

// BenchmarkLimited is POST /v1/chat answered 429: the key has spent its
// minute and its day, as the "tiny" tier of bench/run.sh's limited
// scenario has.
func BenchmarkLimited(b *testing.B) {
	ts, key := spentKey(b)
	benchChat(b, ts, []string{key}, http.StatusTooManyRequests)
}

// openKey is a test server with a key of tier basic, whose limits never
// refuse.
func openKey(b *testing.B) (*testServer, string) {
	return benchKey(b, limiter.Limits{PerMinute: 1 << 30, PerDay: 1 << 50})
}

// spentKey is a test server with a key that has spent its minute and its
// day, as the "tiny" tier of bench/run.sh's limited scenario has: every
// request is answered 429.
func spentKey(b *testing.B) (*testServer, string) {
	ts, key := benchKey(b, limiter.Limits{PerMinute: 1, PerDay: 1})
	if rec := ts.chat(key); rec.Code != http.StatusOK {
		b.Fatalf("first request: %d %s", rec.Code, rec.Body)
	}
	return ts, key
}

// benchKey is a test server whose tier basic has lim, and a key of it.
func benchKey(b *testing.B, lim limiter.Limits) (*testServer, string) {
	ts := newTestServer(b, func(c *server.Config) { c.Tiers["basic"] = lim })
	_, pair := ts.signUp("bench@example.com")
	return ts, ts.newKey(pair.AccessToken, map[string]string{"name": "bench"}).Key
}

// benchChat sends POST /v1/chat with each of keys in turn and checks the
// status, reusing one request, its body reader and one ResponseWriter.
func benchChat(b *testing.B, ts *testServer, keys []string, wantStatus int) {
	benchServe(b, ts, keys, wantStatus, &discardWriter{h: make(http.Header)})
}

// benchWriter is a ResponseWriter a benchmark reuses.
type benchWriter interface {
	http.ResponseWriter
	reset()
	status() int
}

// benchServe is benchChat through w.
func benchServe(b *testing.B, ts *testServer, keys []string, wantStatus int, w benchWriter) {
	const body = `{"message":"hello"}`
	req := httptest.NewRequest("POST", "/v1/chat", nil)
	req.Header.Set("Content-Type", "application/json")
	auth := make([]string, len(keys))
	for i, k := range keys {
		auth[i] = "Bearer " + k
	}
	var rd resetReader
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		req.Header["Authorization"] = auth[i%len(auth) : i%len(auth)+1]
		i++
		rd.Reset(body)
		req.Body = &rd
		w.reset()
		ts.ServeHTTP(w, req)
		if w.status() != wantStatus {
			b.Fatalf("status %d, want %d", w.status(), wantStatus)
		}
	}
}

// resetReader is a request body that can be refilled without allocating.
type resetReader struct{ strings.Reader }

func (*resetReader) Close() error { return nil }

// discardWriter is a ResponseWriter that keeps the status and drops the
// body; reset empties its header map in place.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}

func (w *discardWriter) status() int { return w.code }

func (w *discardWriter) reset() {
	clear(w.h)
	w.code = 0
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }
