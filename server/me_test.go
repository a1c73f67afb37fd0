package server_test

import (
	"testing"
	"time"
)

func TestPasswordChange(t *testing.T) {
	ts := newTestServer(t)
	_, this := ts.signUp("ada@example.com")
	other := ts.login("ada@example.com")
	auth := bearer(this.AccessToken)
	tests := []struct {
		name   string
		header []string
		body   any
		status int
		code   string
	}{
		{"no token", nil, map[string]string{"current_password": testPassword, "new_password": "a new password"}, 401, "unauthorized"},
		{"empty body", []string{auth}, nil, 400, "invalid_request"},
		{"unknown field", []string{auth}, `{"current_password":"x","new_password":"yyyyyyyy","confirm":"y"}`, 400, "invalid_request"},
		{"short new", []string{auth}, map[string]string{"current_password": testPassword, "new_password": "short"}, 400, "invalid_request"},
		{"new holds the service name", []string{auth}, map[string]string{"current_password": testPassword, "new_password": "KeyGate-2026"}, 400, "invalid_request"},
		{"wrong current", []string{auth}, map[string]string{"current_password": "not my password", "new_password": "a new password"}, 403, "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want(t, ts.do("POST", "/v1/me/password", tc.body, tc.header...), tc.status, tc.code, nil)
		})
	}
	rec := ts.do("POST", "/v1/me/password", map[string]string{"current_password": testPassword, "new_password": "a new password"}, auth)
	if rec.Code != 204 {
		t.Fatalf("change = %d %s", rec.Code, rec.Body)
	}
	// Every other session is revoked at once; this one lives on.
	want(t, ts.do("GET", "/v1/me", nil, bearer(other.AccessToken)), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": other.RefreshToken}), 401, "unauthorized", nil)
	want(t, ts.do("GET", "/v1/me", nil, auth), 200, "", nil)
	want(t, ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": testPassword}), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": "a new password"}), 200, "", nil)
}

// Guessing the current password with a stolen access token backs off like
// failed logins do.
func TestPasswordChange_BacksOff(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	guess := map[string]string{"current_password": "guess guess", "new_password": "a new password"}
	for range 5 {
		want(t, ts.do("POST", "/v1/me/password", guess, bearer(pair.AccessToken)), 403, "forbidden", nil)
	}
	want(t, ts.do("POST", "/v1/me/password", guess, bearer(pair.AccessToken)), 403, "forbidden", nil)
	rec := ts.do("POST", "/v1/me/password", guess, bearer(pair.AccessToken))
	want(t, rec, 429, "rate_limited", nil)
	if rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestSessions(t *testing.T) {
	ts := newTestServer(t)
	_, first := ts.signUp("ada@example.com")
	ts.clock.Advance(time.Minute)
	second := ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": testPassword},
		"User-Agent: curl/8.0")
	var pair tokenPair
	want(t, second, 200, "", &pair)
	_, bob := ts.signUp("bob@example.com")

	type session struct {
		ID         string
		CreatedAt  string  `json:"created_at"`
		LastUsedAt *string `json:"last_used_at"`
		UserAgent  string  `json:"user_agent"`
		IP         string
		Current    bool
	}
	var list struct{ Sessions []session }
	want(t, ts.do("GET", "/v1/me/sessions", nil, bearer(pair.AccessToken)), 200, "", &list)
	if len(list.Sessions) != 2 {
		t.Fatalf("%d sessions, want 2", len(list.Sessions))
	}
	newest, oldest := list.Sessions[0], list.Sessions[1]
	if !newest.Current || oldest.Current || newest.UserAgent != "curl/8.0" || newest.IP != "192.0.2.1" ||
		newest.CreatedAt != "2026-11-26T12:01:00Z" || newest.LastUsedAt == nil {
		t.Errorf("sessions = %+v", list.Sessions)
	}
	sid := claimsOf(t, first.AccessToken)["sid"].(string)
	if oldest.ID != sid {
		t.Errorf("oldest = %s, want %s", oldest.ID, sid)
	}

	// Another user's session, and one that does not exist, are 404.
	want(t, ts.do("DELETE", "/v1/me/sessions/"+sid, nil, bearer(bob.AccessToken)), 404, "not_found", nil)
	want(t, ts.do("DELETE", "/v1/me/sessions/ses_nope", nil, bearer(pair.AccessToken)), 404, "not_found", nil)
	want(t, ts.do("GET", "/v1/me", nil, bearer(first.AccessToken)), 200, "", nil)

	// Revoking one session ends its access and refresh tokens at once.
	if rec := ts.do("DELETE", "/v1/me/sessions/"+sid, nil, bearer(pair.AccessToken)); rec.Code != 204 {
		t.Fatalf("revoke = %d %s", rec.Code, rec.Body)
	}
	want(t, ts.do("GET", "/v1/me", nil, bearer(first.AccessToken)), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": first.RefreshToken}), 401, "unauthorized", nil)
	want(t, ts.do("GET", "/v1/me/sessions", nil, bearer(pair.AccessToken)), 200, "", &list)
	if len(list.Sessions) != 1 || !list.Sessions[0].Current {
		t.Errorf("after revoke: %+v", list.Sessions)
	}

	// Signing out everywhere ends this session too; bob's is untouched.
	if rec := ts.do("DELETE", "/v1/me/sessions", nil, bearer(pair.AccessToken)); rec.Code != 204 {
		t.Fatalf("revoke all = %d", rec.Code)
	}
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 401, "unauthorized", nil)
	want(t, ts.do("GET", "/v1/me", nil, bearer(bob.AccessToken)), 200, "", nil)
}

// Revocations survive a restart: the live set is rebuilt from the store.
func TestSessions_RestartKeepsRevocations(t *testing.T) {
	ts := newTestServer(t)
	_, revoked := ts.signUp("ada@example.com")
	live := ts.login("ada@example.com")
	want(t, ts.do("POST", "/v1/auth/logout", map[string]string{"refresh_token": revoked.RefreshToken}), 204, "", nil)
	ts.restart()
	want(t, ts.do("GET", "/v1/me", nil, bearer(revoked.AccessToken)), 401, "unauthorized", nil)
	want(t, ts.do("GET", "/v1/me", nil, bearer(live.AccessToken)), 200, "", nil)
}
