package server_test

import (
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/server"
)

func TestProtectedRoute_KeyChecks(t *testing.T) {
	ts := newTestServer(t)
	u, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	other := ts.newKey(pair.AccessToken, map[string]string{"name": "other"})
	unknown := "kg_live_" + strings.Repeat("A", 43)
	tests := []struct {
		name   string
		header []string
		status int
		code   string
	}{
		{"no key", nil, 401, "unauthorized"},
		{"empty X-API-Key", []string{"X-API-Key: "}, 401, "unauthorized"},
		{"bearer without token", []string{"Authorization: Bearer "}, 401, "unauthorized"},
		{"wrong prefix", []string{bearer("sk_live_" + k.Key[8:])}, 401, "unauthorized"},
		{"truncated", []string{bearer(k.Key[:len(k.Key)-1])}, 401, "unauthorized"},
		{"bad alphabet", []string{bearer(k.Key[:len(k.Key)-1] + "-")}, 401, "unauthorized"},
		{"unknown key", []string{bearer(unknown)}, 401, "unauthorized"},
		{"unknown key again (cached miss)", []string{"X-API-Key: " + unknown}, 401, "unauthorized"},
		{"access token as key", []string{bearer(pair.AccessToken)}, 401, "unauthorized"},
		{"two different keys", []string{bearer(k.Key), "X-API-Key: " + other.Key}, 401, "unauthorized"},
		{"bearer", []string{bearer(k.Key)}, 200, ""},
		{"X-API-Key", []string{"X-API-Key: " + k.Key}, 200, ""},
		{"both, the same", []string{bearer(k.Key), "X-API-Key: " + k.Key}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := ts.do("POST", "/v1/chat", `{"message":"hello"}`, tc.header...)
			if tc.code != "" {
				want(t, rec, tc.status, tc.code, nil)
				if strings.Contains(rec.Body.String(), k.Key) {
					t.Error("error echoes the key")
				}
				return
			}
			var got struct{ Reply, KeyID, Tier string }
			want(t, rec, tc.status, "", &got)
			if got.Reply != "hello" || got.Tier != "basic" {
				t.Errorf("reply = %+v", got)
			}
			if got.KeyID != k.ID {
				// encoding/json matches key_id to KeyID case-insensitively only with the underscore; check raw.
				if !strings.Contains(rec.Body.String(), `"key_id":"`+k.ID+`"`) {
					t.Errorf("body %s lacks key_id %s", rec.Body, k.ID)
				}
			}
		})
	}
	_ = u
}

func TestProtectedRoute_BadBodies(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	ts.grantTiers(ts.userID("ada@example.com"), "basic", "pro")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci", "tier": "pro"})
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"message":1}`, 400, "invalid_request"},
		{`{"message":"hi","extra":true}`, 400, "invalid_request"},
		{`{"message":`, 400, "invalid_request"},
		{`"hi"`, 400, "invalid_request"},
		{`{"message":"` + strings.Repeat("x", 5000) + `"}`, 413, "payload_too_large"},
	} {
		want(t, ts.do("POST", "/v1/chat", tc.body, bearer(k.Key)), tc.status, tc.code, nil)
	}
	want(t, ts.do("POST", "/v1/chat", nil, bearer(k.Key)), 200, "", nil)
}

func TestProtectedRoute_Tier(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	rec := ts.do("GET", "/v1/pro-only", nil, bearer(k.Key))
	want(t, rec, 403, "forbidden", nil)
	if rec.Header().Get("X-RateLimit-Remaining") != "5" {
		t.Errorf("403 headers: %v", rec.Header())
	}
	// A refused tier spends nothing.
	for range 5 {
		want(t, ts.chat(k.Key), 200, "", nil)
	}
	// A bad key is refused before its tier is looked at.
	want(t, ts.do("GET", "/v1/pro-only", nil, bearer("kg_live_"+strings.Repeat("z", 43))), 401, "unauthorized", nil)

	pro := ts.newProKey(pair.AccessToken)
	want(t, ts.do("GET", "/v1/pro-only", nil, bearer(pro)), 200, "", nil)
}

// newProKey grants the user pro and creates a pro key.
func (ts *testServer) newProKey(access string) string {
	ts.t.Helper()
	var me struct{ User user }
	want(ts.t, ts.do("GET", "/v1/me", nil, bearer(access)), 200, "", &me)
	ts.grantTiers(me.User.ID, "basic", "pro")
	return ts.newKey(access, map[string]string{"name": "pro", "tier": "pro"}).Key
}

func (ts *testServer) userID(email string) string {
	ts.t.Helper()
	u, err := ts.db.UserByEmail(ts.t.Context(), email)
	if err != nil {
		ts.t.Fatal(err)
	}
	return u.ID
}

func TestProtectedRoute_Headers(t *testing.T) {
	ts := newTestServer(t) // basic: 5/min, 20/day; clock at 12:00:00 UTC
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})

	check := func(rec *httptest.ResponseRecorder, rate, remaining, reset string) {
		t.Helper()
		h := rec.Header()
		wantHeaders := map[string]string{
			"RateLimit-Policy":      `"minute";q=5;w=60, "day";q=20;w=86400`,
			"RateLimit":             rate,
			"X-RateLimit-Limit":     "5",
			"X-RateLimit-Remaining": remaining,
			"X-RateLimit-Reset":     reset,
		}
		for name, v := range wantHeaders {
			if got := h.Get(name); got != v {
				t.Errorf("%s = %q, want %q", name, got, v)
			}
		}
	}
	rec := ts.chat(k.Key)
	want(t, rec, 200, "", nil)
	// One of five spent; a token comes back every 12 s; midnight is 12 h away.
	check(rec, `"minute";r=4;t=12, "day";r=19;t=43200`, "4", "12")

	for range 4 {
		want(t, ts.chat(k.Key), 200, "", nil)
	}
	rec = ts.chat(k.Key)
	want(t, rec, 429, "rate_limited", nil)
	check(rec, `"minute";r=0;t=60, "day";r=15;t=43200`, "0", "60")
	if got := rec.Header().Get("Retry-After"); got != "12" {
		t.Errorf("Retry-After = %q, want 12", got)
	}
	if !strings.Contains(rec.Body.String(), "Rate limit exceeded: 5/min") {
		t.Errorf("detail: %s", rec.Body)
	}
	ts.clock.Advance(12 * time.Second)
	want(t, ts.chat(k.Key), 200, "", nil)
}

func TestProtectedRoute_DailyLimit(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) {
		c.Tiers["basic"] = limiter.Limits{PerMinute: 3, PerDay: 4}
	})
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	for range 3 {
		want(t, ts.chat(k.Key), 200, "", nil)
	}
	ts.clock.Advance(time.Minute)
	want(t, ts.chat(k.Key), 200, "", nil)
	rec := ts.chat(k.Key)
	want(t, rec, 429, "rate_limited", nil)
	// 12:01:00 UTC: the day resets in 11 h 59 min.
	if got := rec.Header().Get("Retry-After"); got != "43140" {
		t.Errorf("Retry-After = %q, want 43140", got)
	}
	if !strings.Contains(rec.Body.String(), "Daily limit exceeded: 4/day") {
		t.Errorf("detail: %s", rec.Body)
	}
	// The refusals spent no minute tokens: two remain of three.
	if got := rec.Header().Get("X-RateLimit-Remaining"); got != "2" {
		t.Errorf("X-RateLimit-Remaining = %q, want 2", got)
	}
	ts.restart()
	want(t, ts.chat(k.Key), 429, "rate_limited", nil) // the count survived the restart
	ts.clock.Advance(12 * time.Hour)                  // past midnight UTC
	want(t, ts.chat(k.Key), 200, "", nil)
}

// Sixty requests at once on a fresh key with five a minute admit exactly five.
func TestProtectedRoute_ExactUnderConcurrency(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	for round := range 5 {
		k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
		var ok, limited atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				switch rec := ts.chat(k.Key); rec.Code {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
				default:
					t.Errorf("status %d: %s", rec.Code, rec.Body)
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok.Load() != 5 || limited.Load() != 55 {
			t.Fatalf("round %d: %d admitted, %d limited; want 5 and 55", round, ok.Load(), limited.Load())
		}
		if rec := ts.do("DELETE", "/v1/keys/"+k.ID, nil, bearer(pair.AccessToken)); rec.Code != 204 {
			t.Fatal(rec.Code)
		}
	}
}

// Once a key has been used, checking it needs no disk: with the database
// closed underneath, the warm key is still answered.
func TestProtectedRoute_WarmKeyNeedsNoDisk(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	want(t, ts.chat(k.Key), 200, "", nil)
	if err := ts.db.Close(); err != nil {
		t.Fatal(err)
	}
	want(t, ts.chat(k.Key), 200, "", nil)
	want(t, ts.chat(k.Key), 200, "", nil)
	ts.open() // for the cleanup
}

func TestProtectedRoute_RestartKeepsEverything(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	revoked := ts.newKey(pair.AccessToken, map[string]string{"name": "gone"})
	for range 3 {
		want(t, ts.chat(k.Key), 200, "", nil)
	}
	want(t, ts.do("DELETE", "/v1/keys/"+revoked.ID, nil, bearer(pair.AccessToken)), 204, "", nil)

	ts.restart()
	// The user, the session, the key, the revocation and today's count.
	want(t, ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": testPassword}), 200, "", nil)
	var fresh tokenPair
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), 200, "", &fresh)
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 200, "", nil) // same secret: tokens stay valid
	want(t, ts.chat(revoked.Key), 401, "unauthorized", nil)
	rec := ts.chat(k.Key)
	want(t, rec, 200, "", nil)
	if got := rec.Header().Get("RateLimit"); !strings.Contains(got, `"day";r=16;`) {
		t.Errorf("RateLimit = %q, want 16 left today after 4 of 20", got)
	}
	var got key
	want(t, ts.do("GET", "/v1/keys/"+k.ID, nil, bearer(fresh.AccessToken)), 200, "", &got)
	if got.LastUsedAt == nil {
		t.Error("last_used_at lost across restart")
	}
}
