package server_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequestBodies sends arbitrary bodies to every route that reads one,
// as a signed-in user with a key: whatever the bytes, the answer is a
// clear 4xx or a success, never a 5xx or a panic.
func FuzzRequestBodies(f *testing.F) {
	ts := newTestServer(f)
	_, pair := ts.signUp("fuzz@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "fuzz"})
	routes := []struct{ method, path string }{
		{"POST", "/v1/auth/register"},
		{"POST", "/v1/auth/login"},
		{"POST", "/v1/auth/refresh"},
		{"POST", "/v1/auth/logout"},
		{"POST", "/v1/auth/password-reset"},
		{"POST", "/v1/me/password"},
		{"POST", "/v1/keys"},
		{"POST", "/v1/keys/" + k.ID + "/rotate"},
		{"POST", "/v1/keys/verify"},
		{"POST", "/v1/chat"},
		{"PATCH", "/v1/admin/users/" + k.ID},
	}
	for i := range routes {
		for _, seed := range []string{``, `{}`, `null`, `[]`, `{"email":"a@b.io","password":"12345678"}`,
			`{"name":"x","tier":"pro","expires_in":-1}`, `{"grace_seconds":1e99}`, `{"key":"kg_live_x"}`,
			`{"message":"` + strings.Repeat("é", 10) + `"}`, `{"tiers":[null]}`, "\xff\xfe", `{"a":1}{"b":2}`} {
			f.Add(uint8(i), seed)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := routes[int(route)%len(routes)]
		header := []string{bearer(pair.AccessToken)}
		if rt.path == "/v1/chat" {
			header = []string{"X-API-Key: " + k.Key}
		}
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(body))
		name, value, _ := strings.Cut(header[0], ": ")
		req.Header.Set(name, value)
		rec := httptest.NewRecorder()
		ts.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
	})
}
