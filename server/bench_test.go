package server_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/server"
)

// BenchmarkProtectedRoute is the full handler chain of POST /v1/chat with
// a warm key and limits that never refuse.
func BenchmarkProtectedRoute(b *testing.B) {
	ts := newTestServer(b, func(c *server.Config) {
		c.Tiers["basic"] = limiter.Limits{PerMinute: 1 << 30, PerDay: 1 << 50}
	})
	_, pair := ts.signUp("bench@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "bench"})
	body := `{"message":"hello"}`
	req := httptest.NewRequest("POST", "/v1/chat", nil)
	req.Header.Set("Authorization", "Bearer "+k.Key)
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

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }
