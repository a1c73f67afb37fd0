package server_test

import (
	"strings"
	"testing"
	"time"
)

// An admin issues a single-use reset token; the user sets a new password
// with it, every session ends, and the token does not work twice.
func TestPasswordReset(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	u, pair := ts.signUp("ada@example.com")
	_, plain := ts.signUp("bob@example.com")
	want(t, ts.do("POST", "/v1/admin/users/"+u.ID+"/password-reset", nil, bearer(plain.AccessToken)), 403, "forbidden", nil)
	want(t, ts.do("POST", "/v1/admin/users/usr_nobody/password-reset", nil, bearer(admin.AccessToken)), 404, "not_found", nil)

	var issued struct {
		Token     string
		ExpiresAt string `json:"expires_at"`
	}
	rec := ts.do("POST", "/v1/admin/users/"+u.ID+"/password-reset", nil, bearer(admin.AccessToken))
	want(t, rec, 201, "", &issued)
	if !strings.HasPrefix(issued.Token, "kgreset_") || issued.ExpiresAt != "2026-11-26T13:00:00Z" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("issued = %+v %v", issued, rec.Header())
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"empty body", nil, 400, "invalid_request"},
		{"short password", map[string]string{"token": issued.Token, "new_password": "short"}, 400, "invalid_request"},
		{"a word of the service", map[string]string{"token": issued.Token, "new_password": "my kg_live_ password"}, 400, "invalid_request"},
		{"forged token", map[string]string{"token": "kgreset_" + strings.Repeat("a", 43), "new_password": "a brand new one"}, 401, "unauthorized"},
		{"not a token", map[string]string{"token": "nope", "new_password": "a brand new one"}, 401, "unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, ts.do("POST", "/v1/auth/password-reset", tc.body), tc.status, tc.code, nil)
		})
	}
	reset := map[string]string{"token": issued.Token, "new_password": "a brand new one"}
	if rec := ts.do("POST", "/v1/auth/password-reset", reset); rec.Code != 204 {
		t.Fatalf("reset = %d %s", rec.Code, rec.Body)
	}
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/password-reset", reset), 401, "unauthorized", nil) // spent
	want(t, ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": testPassword}), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": "a brand new one"}), 200, "", nil)

	// A token not used within the hour stops working.
	want(t, ts.do("POST", "/v1/admin/users/"+u.ID+"/password-reset", nil, bearer(admin.AccessToken)), 201, "", &issued)
	ts.clock.Advance(time.Hour)
	want(t, ts.do("POST", "/v1/auth/password-reset", map[string]string{"token": issued.Token, "new_password": "too late now"}), 401, "unauthorized", nil)
}
