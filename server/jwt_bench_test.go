package server_test

import (
	"net/http/httptest"
	"testing"
)

// BenchmarkKeyListJWT is the full handler chain of GET /v1/keys with an
// access token, for a user with two keys: the "jwt" scenario of bench/run.sh
// (issue 6).
func BenchmarkKeyListJWT(b *testing.B) {
	ts := newTestServer(b)
	_, pair := ts.signUp("bench@example.com")
	ts.newKey(pair.AccessToken, map[string]string{"name": "one"})
	ts.newKey(pair.AccessToken, map[string]string{"name": "two"})
	req := httptest.NewRequest("GET", "/v1/keys", nil)
	req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		ts.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
