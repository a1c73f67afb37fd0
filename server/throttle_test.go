package server_test

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/server"
)

// loginFrom sends a login from a client address (the request's peer).
func (ts *testServer) loginFrom(addr, email, password string, header ...string) *httptest.ResponseRecorder {
	ts.t.Helper()
	req := httptest.NewRequest("POST", "/v1/auth/login", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)))
	req.RemoteAddr = addr + ":40000"
	for _, h := range header {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	rec := httptest.NewRecorder()
	ts.ServeHTTP(rec, req)
	return rec
}

func TestLoginThrottle_PerAddress(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.LoginPerMinute = 3 })
	ts.signUp("ada@example.com") // one login from 192.0.2.1 already
	for range 2 {
		want(t, ts.loginFrom("192.0.2.1", "nobody@example.com", "wrong password"), 401, "unauthorized", nil)
	}
	rec := ts.loginFrom("192.0.2.1", "ada@example.com", testPassword)
	want(t, rec, 429, "rate_limited", nil)
	if rec.Header().Get("Retry-After") != "20" {
		t.Errorf("Retry-After = %q, want 20", rec.Header().Get("Retry-After"))
	}
	// Another address is not affected; the first recovers with time.
	want(t, ts.loginFrom("198.51.100.7", "ada@example.com", testPassword), 200, "", nil)
	ts.clock.Advance(20 * time.Second)
	want(t, ts.loginFrom("192.0.2.1", "ada@example.com", testPassword), 200, "", nil)
}

func TestSignupThrottle_PerAddress(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.SignupPerHour = 2 })
	for i := range 2 {
		want(t, ts.do("POST", "/v1/auth/register", map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": testPassword}), 201, "", nil)
	}
	rec := ts.do("POST", "/v1/auth/register", map[string]string{"email": "u9@example.com", "password": testPassword})
	want(t, rec, 429, "rate_limited", nil)
	if rec.Header().Get("Retry-After") != "1800" {
		t.Errorf("Retry-After = %q, want 1800", rec.Header().Get("Retry-After"))
	}
}

// Failed logins back off per (address, email): the attacker's address
// waits, the owner from their own address does not.
func TestLoginBackoff(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.LoginPerMinute = 1000 })
	ts.signUp("ada@example.com")
	attacker := "203.0.113.9"
	for range 5 {
		want(t, ts.loginFrom(attacker, "ada@example.com", "guess guess"), 401, "unauthorized", nil)
	}
	want(t, ts.loginFrom(attacker, "ada@example.com", "guess guess"), 401, "unauthorized", nil) // the sixth: from now on, waits
	rec := ts.loginFrom(attacker, "ada@example.com", testPassword)
	want(t, rec, 429, "rate_limited", nil)
	if rec.Header().Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1", rec.Header().Get("Retry-After"))
	}
	// The owner, elsewhere, logs in; the attacker's wait doubles.
	want(t, ts.loginFrom("192.0.2.50", "ada@example.com", testPassword), 200, "", nil)
	ts.clock.Advance(time.Second)
	want(t, ts.loginFrom(attacker, "ada@example.com", "guess guess"), 401, "unauthorized", nil)
	rec = ts.loginFrom(attacker, "ada@example.com", "guess guess")
	want(t, rec, 429, "rate_limited", nil)
	if rec.Header().Get("Retry-After") != "2" {
		t.Errorf("Retry-After = %q, want 2", rec.Header().Get("Retry-After"))
	}
	// Other emails from the same address are not held back.
	want(t, ts.loginFrom(attacker, "bob@example.com", "guess guess"), 401, "unauthorized", nil)
}

// A thousand failed logins for one email, from many addresses, leave the
// owner able to log in from a fresh address.
func TestLoginBackoff_StuffingLocksNoOneOut(t *testing.T) {
	ts := newTestServer(t)
	ts.signUp("ada@example.com")
	for i := range 1000 {
		addr := fmt.Sprintf("10.%d.%d.%d", i/65536, (i/256)%256, i%256)
		rec := ts.loginFrom(addr, "ada@example.com", "not the password")
		if rec.Code != 401 {
			t.Fatalf("attempt %d from %s: %d", i, addr, rec.Code)
		}
	}
	want(t, ts.loginFrom("192.0.2.200", "ada@example.com", testPassword), 200, "", nil)
}

// X-Forwarded-For is believed only from trusted proxies.
func TestClientAddress_TrustedProxies(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) {
		c.LoginPerMinute = 1
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	ts.signUp("ada@example.com") // uses the one login of 192.0.2.1
	// From an untrusted peer the header is ignored: still 192.0.2.1's budget.
	want(t, ts.loginFrom("192.0.2.1", "ada@example.com", testPassword, "X-Forwarded-For: 198.51.100.1"), 429, "rate_limited", nil)
	// Through the trusted proxy, each client has its own budget, and a
	// client cannot pick an address by prepending one.
	want(t, ts.loginFrom("10.1.2.3", "ada@example.com", testPassword, "X-Forwarded-For: 198.51.100.1"), 200, "", nil)
	want(t, ts.loginFrom("10.1.2.3", "ada@example.com", testPassword, "X-Forwarded-For: 198.51.100.1"), 429, "rate_limited", nil)
	want(t, ts.loginFrom("10.1.2.3", "ada@example.com", testPassword, "X-Forwarded-For: 203.0.113.5, 198.51.100.1"), 429, "rate_limited", nil)
	rec := ts.loginFrom("10.1.2.3", "ada@example.com", testPassword, "X-Forwarded-For: 198.51.100.2, 10.9.9.9")
	var pair tokenPair
	want(t, rec, 200, "", &pair)
	// The session records the client's address, not the proxy's.
	var list struct {
		Sessions []struct {
			IP      string
			Current bool
		}
	}
	want(t, ts.do("GET", "/v1/me/sessions", nil, bearer(pair.AccessToken)), 200, "", &list)
	for _, s := range list.Sessions {
		if s.Current && s.IP != "198.51.100.2" {
			t.Errorf("session address = %q, want 198.51.100.2", s.IP)
		}
	}
}
