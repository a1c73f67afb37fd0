package server_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/storage"
)

func TestRegister(t *testing.T) {
	ts := newTestServer(t)
	ts.signUp("taken@example.com")
	long := strings.Repeat("a", 73)
	tests := []struct {
		name       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"empty body", nil, 400, "invalid_request"},
		{"not an object", `[1,2]`, 400, "invalid_request"},
		{"malformed", `{"email":`, 400, "invalid_request"},
		{"unknown field", `{"email":"a@b.io","password":"12345678","admin":true}`, 400, "invalid_request"},
		{"wrong type", `{"email":"a@b.io","password":12345678}`, 400, "invalid_request"},
		{"trailing data", `{"email":"a@b.io","password":"12345678"} {}`, 400, "invalid_request"},
		{"bad email", map[string]string{"email": "not-an-email", "password": testPassword}, 400, "invalid_request"},
		{"short password", map[string]string{"email": "a@b.io", "password": "1234567"}, 400, "invalid_request"},
		{"73-byte password", map[string]string{"email": "a@b.io", "password": long}, 400, "invalid_request"},
		{"password holds the email", map[string]string{"email": "margaret@b.io", "password": "Margaret1234"}, 400, "invalid_request"},
		{"password holds the service", map[string]string{"email": "a@b.io", "password": "my-keygate-pw"}, 400, "invalid_request"},
		{"common password", map[string]string{"email": "a@b.io", "password": "Password1"}, 400, "invalid_request"},
		{"oversized body", `{"email":"` + strings.Repeat("a", 5000) + `"}`, 413, "payload_too_large"},
		{"taken, other case", map[string]string{"email": " TAKEN@example.com", "password": testPassword}, 409, "conflict"},
		{"ok", map[string]string{"email": " New.User@Example.com ", "password": testPassword}, 201, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got struct{ User user }
			rec := ts.do("POST", "/v1/auth/register", tc.body)
			if tc.wantCode != "" {
				want(t, rec, tc.wantStatus, tc.wantCode, nil)
				return
			}
			want(t, rec, tc.wantStatus, "", &got)
			u := got.User
			if u.Email != "new.user@example.com" || u.Role != "user" || u.Disabled || u.ID == "" ||
				len(u.Tiers) != 1 || u.Tiers[0] != "basic" || u.CreatedAt != "2026-11-26T12:00:00Z" {
				t.Errorf("user = %+v", u)
			}
			if strings.Contains(rec.Body.String(), "password") || strings.Contains(rec.Body.String(), "$2a$") {
				t.Errorf("response leaks the password or its hash: %s", rec.Body)
			}
		})
	}
}

func TestRegister_Disabled(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.AllowSignup = false })
	want(t, ts.do("POST", "/v1/auth/register", map[string]string{"email": "a@b.io", "password": testPassword}), 403, "forbidden", nil)
}

func TestLogin(t *testing.T) {
	ts := newTestServer(t)
	ts.signUp("ada@example.com")
	tests := []struct {
		name       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"empty body", nil, 400, "invalid_request"},
		{"unknown field", `{"email":"ada@example.com","password":"x","otp":1}`, 400, "invalid_request"},
		{"short password", map[string]string{"email": "ada@example.com", "password": "short"}, 400, "invalid_request"},
		// bcrypt would only look at the first 72 bytes; such a password must never log in.
		{"73-byte password", map[string]string{"email": "ada@example.com", "password": testPassword + strings.Repeat("x", 73-len(testPassword))}, 400, "invalid_request"},
		{"wrong password", map[string]string{"email": "ada@example.com", "password": "wrong password"}, 401, "unauthorized"},
		{"unknown email", map[string]string{"email": "bob@example.com", "password": testPassword}, 401, "unauthorized"},
		{"ok, other case", map[string]string{"email": "ADA@example.com ", "password": testPassword}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := ts.do("POST", "/v1/auth/login", tc.body)
			if tc.wantCode != "" {
				want(t, rec, tc.wantStatus, tc.wantCode, nil)
				return
			}
			var p tokenPair
			want(t, rec, tc.wantStatus, "", &p)
			if p.TokenType != "Bearer" || p.ExpiresIn != 1800 || p.AccessToken == "" || p.RefreshToken == "" {
				t.Errorf("pair = %+v", p)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

// An unknown email and a wrong password must be indistinguishable.
func TestLogin_NoEnumeration(t *testing.T) {
	ts := newTestServer(t)
	ts.signUp("ada@example.com")
	wrong := ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": "wrong password"})
	unknown := ts.do("POST", "/v1/auth/login", map[string]string{"email": "nobody@example.com", "password": "wrong password"})
	if wrong.Code != 401 || unknown.Code != 401 || wrong.Body.String() != unknown.Body.String() {
		t.Fatalf("wrong password: %d %s; unknown email: %d %s", wrong.Code, wrong.Body, unknown.Code, unknown.Body)
	}
	if wrong.Header().Get("WWW-Authenticate") == "" || unknown.Header().Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}

func TestMe(t *testing.T) {
	ts := newTestServer(t)
	u, pair := ts.signUp("ada@example.com")

	sign := func(method jwt.SigningMethod, key any, claims jwt.Claims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := ts.clock.Now()
	sid := claimsOf(t, pair.AccessToken)["sid"].(string)
	claims := func(typ, iss string, exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"sub": u.ID, "type": typ, "iss": iss, "aud": "keygate", "iat": now.Unix(), "exp": exp.Unix(), "sid": sid}
	}
	otherAudience := claims("access", "keygate", now.Add(time.Minute))
	otherAudience["aud"] = "billing"
	noAudience := claims("access", "keygate", now.Add(time.Minute))
	delete(noAudience, "aud")
	valid := claims("access", "keygate", now.Add(time.Minute))
	b64 := base64.RawURLEncoding.EncodeToString
	algNone := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"`+u.ID+`","type":"access","iss":"keygate","exp":9999999999}`)) + "."
	noExp := jwt.MapClaims{"sub": u.ID, "type": "access", "iss": "keygate"}

	tests := []struct {
		name   string
		header []string
		status int
		code   string
	}{
		{"no header", nil, 401, "unauthorized"},
		{"basic auth", []string{"Authorization: Basic YTpi"}, 401, "unauthorized"},
		{"garbage", []string{bearer("not.a.jwt")}, 401, "unauthorized"},
		{"alg none", []string{bearer(algNone)}, 401, "unauthorized"},
		{"HS512 same secret", []string{bearer(sign(jwt.SigningMethodHS512, testSecret, valid))}, 401, "unauthorized"},
		{"forged", []string{bearer(sign(jwt.SigningMethodHS256, []byte("another secret of thirty-two bytes!"), valid))}, 401, "unauthorized"},
		{"wrong issuer", []string{bearer(sign(jwt.SigningMethodHS256, testSecret, claims("access", "evil", now.Add(time.Minute))))}, 401, "unauthorized"},
		{"expired", []string{bearer(sign(jwt.SigningMethodHS256, testSecret, claims("access", "keygate", now.Add(-time.Second))))}, 401, "unauthorized"},
		{"no exp", []string{bearer(sign(jwt.SigningMethodHS256, testSecret, noExp))}, 401, "unauthorized"},
		{"other audience", []string{bearer(sign(jwt.SigningMethodHS256, testSecret, otherAudience))}, 401, "unauthorized"},
		{"no audience", []string{bearer(sign(jwt.SigningMethodHS256, testSecret, noAudience))}, 401, "unauthorized"},
		{"refresh as access", []string{bearer(pair.RefreshToken)}, 401, "unauthorized"},
		{"type missing", []string{bearer(sign(jwt.SigningMethodHS256, testSecret, claims("", "keygate", now.Add(time.Minute))))}, 401, "unauthorized"},
		{"api key as token", []string{bearer("kg_live_" + strings.Repeat("a", 43))}, 401, "unauthorized"},
		{"unknown session", []string{bearer(sign(jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": u.ID, "type": "access", "iss": "keygate", "aud": "keygate", "exp": now.Add(time.Minute).Unix(), "sid": "ses_unknown"}))}, 401, "unauthorized"},
		{"no session", []string{bearer(sign(jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": u.ID, "type": "access", "iss": "keygate", "aud": "keygate", "exp": now.Add(time.Minute).Unix()}))}, 401, "unauthorized"},
		{"ok, hand-signed", []string{bearer(sign(jwt.SigningMethodHS256, testSecret, valid))}, 200, ""},
		{"ok", []string{bearer(pair.AccessToken)}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := ts.do("GET", "/v1/me", nil, tc.header...)
			if tc.code != "" {
				want(t, rec, tc.status, tc.code, nil)
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			var got struct{ User user }
			want(t, rec, tc.status, "", &got)
			if got.User.ID != u.ID || got.User.Email != "ada@example.com" {
				t.Errorf("user = %+v", got.User)
			}
		})
	}
}

func TestMe_TokenExpiresWithClock(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 200, "", nil)
	ts.clock.Advance(31 * time.Minute)
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 401, "unauthorized", nil)
}

func TestRefresh(t *testing.T) {
	ts := newTestServer(t)
	_, first := ts.signUp("ada@example.com")

	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"empty body", nil, 400, "invalid_request"},
		{"missing token", `{}`, 400, "invalid_request"},
		{"unknown field", `{"refresh_token":"x","access_token":"y"}`, 400, "invalid_request"},
		{"garbage", map[string]string{"refresh_token": "garbage"}, 401, "unauthorized"},
		{"access as refresh", map[string]string{"refresh_token": first.AccessToken}, 401, "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want(t, ts.do("POST", "/v1/auth/refresh", tc.body), tc.status, tc.code, nil)
		})
	}

	// Each refresh spends its token and hands out the next one.
	var second tokenPair
	ts.clock.Advance(time.Second) // so the new tokens differ from the old
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": first.RefreshToken}), 200, "", &second)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" {
		t.Fatalf("refresh did not rotate: %+v", second)
	}
	want(t, ts.do("GET", "/v1/me", nil, bearer(second.AccessToken)), 200, "", nil)

	// Presenting the spent token again revokes the whole session: the
	// newest refresh token stops working too.
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": first.RefreshToken}), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": second.RefreshToken}), 401, "unauthorized", nil)
	want(t, ts.do("GET", "/v1/me", nil, bearer(second.AccessToken)), 401, "unauthorized", nil)

	// Another login is another session, unaffected.
	third := ts.login("ada@example.com")
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": third.RefreshToken}), 200, "", nil)
}

func TestRefresh_Expired(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	ts.clock.Advance(169 * time.Hour)
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), 401, "unauthorized", nil)
}

func TestLogout(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	other := ts.login("ada@example.com")

	want(t, ts.do("POST", "/v1/auth/logout", nil), 400, "invalid_request", nil)
	want(t, ts.do("POST", "/v1/auth/logout", map[string]string{"refresh_token": "forged"}), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/logout", map[string]string{"refresh_token": pair.AccessToken}), 401, "unauthorized", nil)

	rec := ts.do("POST", "/v1/auth/logout", map[string]string{"refresh_token": pair.RefreshToken})
	if rec.Code != 204 || rec.Body.Len() != 0 {
		t.Fatalf("logout = %d %q", rec.Code, rec.Body)
	}
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), 401, "unauthorized", nil)
	// The session's access token dies with it, long before its exp.
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 401, "unauthorized", nil)
	want(t, ts.do("GET", "/v1/me", nil, bearer(other.AccessToken)), 200, "", nil)
	// Logging out twice is fine; the other session lives on.
	if rec := ts.do("POST", "/v1/auth/logout", map[string]string{"refresh_token": pair.RefreshToken}); rec.Code != 204 {
		t.Fatalf("second logout = %d", rec.Code)
	}
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": other.RefreshToken}), 200, "", nil)
}

func TestDisabledUser(t *testing.T) {
	ts := newTestServer(t)
	u, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	want(t, ts.chat(k.Key), 200, "", nil)

	if _, err := ts.db.UpdateUser(t.Context(), u.ID, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	ts.restart() // a change made behind the server's back is seen after a restart
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": testPassword}), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), 401, "unauthorized", nil)
	want(t, ts.chat(k.Key), 401, "unauthorized", nil)
}

// However often it is refreshed, a session ends SessionMaxAge after its
// login (ASVS 7.3.2).
func TestRefresh_AbsoluteLifetime(t *testing.T) {
	ts := newTestServer(t) // SessionMaxAge: 30 days; refresh tokens: 7 days
	_, pair := ts.signUp("ada@example.com")
	for range 4 { // days 6, 12, 18, 24
		ts.clock.Advance(6 * 24 * time.Hour)
		want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), 200, "", &pair)
	}
	ts.clock.Advance(5 * 24 * time.Hour) // day 29
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), 200, "", &pair)
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 200, "", nil)
	ts.clock.Advance(24*time.Hour + time.Minute) // past day 30
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), 401, "unauthorized", nil)
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 401, "unauthorized", nil)
}

// A login past MaxSessionsPerUser ends the least recently used session
// (ASVS 7.1.2).
func TestLogin_SessionCap(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.MaxSessionsPerUser = 3 })
	_, first := ts.signUp("ada@example.com")
	ts.clock.Advance(time.Minute)
	second := ts.login("ada@example.com")
	ts.clock.Advance(time.Minute)
	third := ts.login("ada@example.com")
	ts.clock.Advance(time.Minute)
	want(t, ts.do("GET", "/v1/me", nil, bearer(first.AccessToken)), 200, "", nil) // the first is now the most recently used
	fourth := ts.login("ada@example.com")
	want(t, ts.do("GET", "/v1/me", nil, bearer(second.AccessToken)), 401, "unauthorized", nil)
	for _, p := range []tokenPair{first, third, fourth} {
		want(t, ts.do("GET", "/v1/me", nil, bearer(p.AccessToken)), 200, "", nil)
	}
}
