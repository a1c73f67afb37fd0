package server_test

import (
	"net/http"
	"strings"
	"testing"
)

const browser = "X-Requested-With: keygate-dashboard"

// refreshCookieOf returns the refresh cookie a response sets, or nil.
func refreshCookieOf(h http.Header) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "keygate_refresh" {
			return c
		}
	}
	return nil
}

// A browser's refresh token lives in an HttpOnly, SameSite=Strict cookie
// scoped to the auth routes; page scripts never see it.
func TestBrowserSession(t *testing.T) {
	ts := newTestServer(t)
	ts.signUp("ada@example.com")
	rec := ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": testPassword}, browser)
	var pair tokenPair
	want(t, rec, 200, "", &pair)
	c := refreshCookieOf(rec.Header())
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/v1/auth/" || c.MaxAge != 168*3600 || c.Secure {
		t.Fatalf("cookie = %+v", c)
	}
	if pair.RefreshToken != "" || strings.Contains(rec.Body.String(), c.Value) || pair.AccessToken == "" {
		t.Fatalf("the body holds the refresh token: %s", rec.Body)
	}

	// Refresh with the cookie and no body; the cookie rotates.
	rec = ts.do("POST", "/v1/auth/refresh", nil, browser, "Cookie: keygate_refresh="+c.Value)
	want(t, rec, 200, "", &pair)
	next := refreshCookieOf(rec.Header())
	if next == nil || next.Value == c.Value || pair.RefreshToken != "" {
		t.Fatalf("refresh: cookie %+v, body %s", next, rec.Body)
	}
	// Without the header, the cookie is not enough: a cross-site form or
	// fetch cannot add it.
	want(t, ts.do("POST", "/v1/auth/refresh", nil, "Cookie: keygate_refresh="+next.Value), 400, "invalid_request", nil)
	want(t, ts.do("POST", "/v1/auth/refresh", nil, browser), 401, "unauthorized", nil)

	// Logout revokes the session and deletes the cookie.
	rec = ts.do("POST", "/v1/auth/logout", nil, browser, "Cookie: keygate_refresh="+next.Value)
	if rec.Code != 204 {
		t.Fatalf("logout = %d %s", rec.Code, rec.Body)
	}
	if gone := refreshCookieOf(rec.Header()); gone == nil || gone.MaxAge >= 0 {
		t.Errorf("logout cookie = %+v, want it deleted", gone)
	}
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/refresh", nil, browser, "Cookie: keygate_refresh="+next.Value), 401, "unauthorized", nil)
}

// Signing in again from a browser that still has a session ends that
// session (ASVS 7.2.4).
func TestBrowserSession_LoginReplacesSession(t *testing.T) {
	ts := newTestServer(t)
	ts.signUp("ada@example.com")
	creds := map[string]string{"email": "ada@example.com", "password": testPassword}
	var old tokenPair
	rec := ts.do("POST", "/v1/auth/login", creds, browser)
	want(t, rec, 200, "", &old)
	cookie := refreshCookieOf(rec.Header())
	want(t, ts.do("POST", "/v1/auth/login", creds, browser, "Cookie: keygate_refresh="+cookie.Value), 200, "", nil)
	want(t, ts.do("GET", "/v1/me", nil, bearer(old.AccessToken)), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/refresh", nil, browser, "Cookie: keygate_refresh="+cookie.Value), 401, "unauthorized", nil)
}
