package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/server"
)

// forwardAuthConfig adds a subtree route for forward auth to match.
func forwardAuthConfig(c *server.Config) {
	c.Routes = append(c.Routes, server.Route{Method: "GET", Path: "/api/", Tiers: []string{"basic"}})
}

func TestForwardAuth(t *testing.T) {
	ts := newTestServer(t, forwardAuthConfig)
	u, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	traefik := func(method, uri string) []string {
		return []string{"X-Forwarded-Method: " + method, "X-Forwarded-Uri: " + uri}
	}
	nginx := func(method, uri string) []string {
		return []string{"X-Original-Method: " + method, "X-Original-URI: " + uri}
	}
	with := func(h []string, more ...string) []string { return append(append([]string{}, h...), more...) }
	tests := []struct {
		name   string
		method string // of the auth request itself: proxies use GET, or the original's
		header []string
		status int
		code   string
	}{
		{"no key", "GET", traefik("GET", "/api/items"), 401, "unauthorized"},
		{"unknown key", "GET", with(traefik("GET", "/api/items"), bearer("kg_live_"+strings.Repeat("x", 43))), 401, "unauthorized"},
		{"no original URI", "GET", []string{"X-API-Key: " + k.Key}, 403, "forbidden"},
		{"no route for the URI", "GET", with(traefik("GET", "/admin"), "X-API-Key: "+k.Key), 403, "forbidden"},
		{"no route for the method", "GET", with(traefik("DELETE", "/api/items"), "X-API-Key: "+k.Key), 403, "forbidden"},
		{"tier not admitted", "GET", with(traefik("GET", "/v1/pro-only"), "X-API-Key: "+k.Key), 403, "forbidden"},
		// A client behind nginx adds X-Forwarded-Uri to pick a route it may use.
		{"spoofed other pair", "GET", with(nginx("GET", "/admin"), "X-Forwarded-Uri: /api/items", "X-API-Key: "+k.Key), 403, "forbidden"},
		{"spoofed other method", "GET", with(nginx("DELETE", "/api/items"), "X-Forwarded-Method: GET", "X-API-Key: "+k.Key), 403, "forbidden"},
		{"both pairs, agreeing", "GET", with(nginx("GET", "/api/items"), "X-Forwarded-Uri: /api/items", "X-API-Key: "+k.Key), 200, ""},
		{"traefik", "GET", with(traefik("GET", "/api/items?page=2"), "X-API-Key: "+k.Key), 200, ""},
		{"nginx", "GET", with(nginx("GET", "/api/items"), bearer(k.Key)), 200, ""},
		{"caddy, any method", "POST", with(traefik("POST", "/v1/chat"), bearer(k.Key)), 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := ts.do(tc.method, "/v1/forward-auth", nil, tc.header...)
			want(t, rec, tc.status, tc.code, nil)
			if tc.status != 200 {
				return
			}
			h := rec.Header()
			if h.Get("X-Keygate-Key-Id") != k.ID || h.Get("X-Keygate-User-Id") != u.ID || h.Get("X-Keygate-Tier") != "basic" {
				t.Errorf("identity headers: %v", h)
			}
			if h.Get("RateLimit") == "" || h.Get("X-RateLimit-Remaining") == "" {
				t.Errorf("no rate-limit headers: %v", h)
			}
		})
	}
	// It counts against the key like a direct call: four admitted above,
	// one left of five this minute; then 429 with Retry-After.
	for range 1 {
		want(t, ts.do("GET", "/v1/forward-auth", nil, with(traefik("GET", "/api/x"), bearer(k.Key))...), 200, "", nil)
	}
	rec := ts.do("GET", "/v1/forward-auth", nil, with(traefik("GET", "/api/x"), bearer(k.Key))...)
	want(t, rec, 429, "rate_limited", nil)
	if rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	want(t, ts.chat(k.Key), 429, "rate_limited", nil)
}

type verification struct {
	Valid   bool
	Code    string
	KeyID   string `json:"key_id"`
	OwnerID string `json:"owner_id"`
	Tier    string
	Limits  *struct {
		Minute, Day struct{ Limit, Remaining, Reset int64 }
	}
}

func TestKeyVerify(t *testing.T) {
	ts := newTestServer(t, forwardAuthConfig)
	u, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	expiring := ts.newKey(pair.AccessToken, map[string]any{"name": "short", "expires_in": 60})
	revoked := ts.newKey(pair.AccessToken, map[string]string{"name": "gone"})
	want(t, ts.do("DELETE", "/v1/keys/"+revoked.ID, nil, bearer(pair.AccessToken)), 204, "", nil)
	ts.clock.Advance(time.Minute)

	for _, body := range []string{``, `{}`, `{"key":""}`, `{"key":1}`, `{"key":"x","extra":1}`, `{"key":"x","path":"/api/"}`, `{"key":"x","method":"GET"}`} {
		want(t, ts.do("POST", "/v1/keys/verify", body), 400, "invalid_request", nil)
	}
	tests := []struct {
		name, body, code string
	}{
		{"malformed", `{"key":"nope"}`, "NOT_FOUND"},
		{"unknown", `{"key":"kg_live_` + strings.Repeat("q", 43) + `"}`, "NOT_FOUND"},
		{"revoked", `{"key":"` + revoked.Key + `"}`, "REVOKED"},
		{"expired", `{"key":"` + expiring.Key + `"}`, "EXPIRED"},
		{"no route", `{"key":"` + k.Key + `","method":"GET","path":"/admin"}`, "FORBIDDEN"},
		{"tier not admitted", `{"key":"` + k.Key + `","method":"GET","path":"/v1/pro-only"}`, "FORBIDDEN"},
		{"valid, any route", `{"key":"` + k.Key + `"}`, "VALID"},
		{"valid for a route", `{"key":"` + k.Key + `","method":"GET","path":"/api/items"}`, "VALID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v verification
			want(t, ts.do("POST", "/v1/keys/verify", tc.body), 200, "", &v)
			if v.Code != tc.code || v.Valid != (tc.code == "VALID") {
				t.Fatalf("verification = %+v, want %s", v, tc.code)
			}
			if tc.code == "VALID" && (v.KeyID != k.ID || v.OwnerID != u.ID || v.Tier != "basic" || v.Limits == nil || v.Limits.Minute.Limit != 5) {
				t.Errorf("verification = %+v", v)
			}
		})
	}
	// Two valid verifications were counted; three more, then RATE_LIMITED.
	for range 3 {
		ts.do("POST", "/v1/keys/verify", `{"key":"`+k.Key+`"}`)
	}
	var v verification
	want(t, ts.do("POST", "/v1/keys/verify", `{"key":"`+k.Key+`"}`), 200, "", &v)
	if v.Valid || v.Code != "RATE_LIMITED" || v.Limits == nil || v.Limits.Minute.Remaining != 0 {
		t.Errorf("over the limit: %+v", v)
	}
}

func TestKeyVerify_Disabled(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	u, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	want(t, ts.do("PATCH", "/v1/admin/users/"+u.ID, `{"disabled":true}`, bearer(admin.AccessToken)), 200, "", nil)
	var v verification
	want(t, ts.do("POST", "/v1/keys/verify", `{"key":"`+k.Key+`"}`), 200, "", &v)
	if v.Code != "DISABLED" {
		t.Errorf("code = %s, want DISABLED", v.Code)
	}
}

func TestKeyVerify_UsageExceeded(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.Tiers["basic"] = limiter.Limits{PerMinute: 10, PerDay: 1} })
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	want(t, ts.chat(k.Key), 200, "", nil)
	var v verification
	want(t, ts.do("POST", "/v1/keys/verify", `{"key":"`+k.Key+`"}`), 200, "", &v)
	if v.Code != "USAGE_EXCEEDED" || v.Limits == nil || v.Limits.Day.Remaining != 0 {
		t.Errorf("verification = %+v", v)
	}
}
