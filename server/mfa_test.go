package server_test

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/auth"
)

const mfaRequiredDetail = `mfa_required: send the 6-digit code from your authenticator app (or a recovery code) as "code"`

var recoveryCodeShape = regexp.MustCompile(`^[a-z2-7]{4}(-[a-z2-7]{4}){5}$`)

// mfaUser is a user whose two-factor authentication is on.
type mfaUser struct {
	user
	pair     tokenPair // the session that enrolled
	secret   []byte
	recovery []string
}

// enrolMFA signs up email and turns two-factor authentication on for it.
func (ts *testServer) enrolMFA(email string) mfaUser {
	ts.t.Helper()
	u, pair := ts.signUp(email)
	secret := ts.startEnrol(pair.AccessToken)
	var out struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	want(ts.t, ts.do("POST", "/v1/me/mfa/totp/confirm", map[string]string{"code": ts.code(secret)}, bearer(pair.AccessToken)), 200, "", &out)
	return mfaUser{user: u, pair: pair, secret: secret, recovery: out.RecoveryCodes}
}

// startEnrol asks for a pending secret and decodes it.
func (ts *testServer) startEnrol(access string) []byte {
	ts.t.Helper()
	var out struct{ Secret string }
	want(ts.t, ts.do("POST", "/v1/me/mfa/totp", map[string]string{"password": testPassword}, bearer(access)), 200, "", &out)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(out.Secret)
	if err != nil {
		ts.t.Fatalf("secret %q: %v", out.Secret, err)
	}
	return secret
}

// code is the TOTP code of secret now.
func (ts *testServer) code(secret []byte) string { return auth.TOTPCode(secret, ts.clock.Now()) }

// nextCode moves the clock to the next time step and returns its code: a
// step already used is refused.
func (ts *testServer) nextCode(secret []byte) string {
	ts.clock.Advance(auth.TOTPPeriod)
	return ts.code(secret)
}

// aheadCode is the code of the next time step, accepted now (clock skew)
// without moving the clock.
func (ts *testServer) aheadCode(secret []byte) string {
	return auth.TOTPCode(secret, ts.clock.Now().Add(auth.TOTPPeriod))
}

func loginBody(email, password, code string) map[string]string {
	b := map[string]string{"email": email, "password": password}
	if code != "" {
		b["code"] = code
	}
	return b
}

func errorDetail(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct{ Detail string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	return e.Detail
}

func TestMFA_Enrol(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada+totp@example.com")
	tests := []struct {
		name       string
		body       any
		header     []string
		wantStatus int
		wantCode   string
	}{
		{"no token", map[string]string{"password": testPassword}, nil, 401, "unauthorized"},
		{"unknown field", map[string]string{"password": testPassword, "x": "y"}, []string{bearer(pair.AccessToken)}, 400, "invalid_request"},
		{"wrong password", map[string]string{"password": "not the password"}, []string{bearer(pair.AccessToken)}, 403, "forbidden"},
		{"ok", map[string]string{"password": testPassword}, []string{bearer(pair.AccessToken)}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out struct {
				Secret     string `json:"secret"`
				OTPAuthURL string `json:"otpauth_url"`
			}
			rec := ts.do("POST", "/v1/me/mfa/totp", tc.body, tc.header...)
			want(t, rec, tc.wantStatus, tc.wantCode, &out)
			if tc.wantStatus != 200 {
				return
			}
			if len(out.Secret) != 32 || strings.Contains(out.Secret, "=") || rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("secret %q (want 32 base32 characters, no padding), headers %v", out.Secret, rec.Header())
			}
			wantURL := "otpauth://totp/keygate:ada+totp@example.com?secret=" + out.Secret + "&issuer=keygate&algorithm=SHA1&digits=6&period=30"
			if out.OTPAuthURL != wantURL {
				t.Errorf("otpauth_url = %s\nwant %s", out.OTPAuthURL, wantURL)
			}
		})
	}
	// A second enrolment replaces the pending secret: the first one's code
	// no longer confirms.
	first := ts.startEnrol(pair.AccessToken)
	second := ts.startEnrol(pair.AccessToken)
	want(t, ts.do("POST", "/v1/me/mfa/totp/confirm", map[string]string{"code": ts.code(first)}, bearer(pair.AccessToken)), 403, "forbidden", nil)
	want(t, ts.do("POST", "/v1/me/mfa/totp/confirm", map[string]string{"code": ts.code(second)}, bearer(pair.AccessToken)), 200, "", nil)
	want(t, ts.do("POST", "/v1/me/mfa/totp", map[string]string{"password": testPassword}, bearer(pair.AccessToken)), 409, "conflict", nil)
}

// Confirming turns MFA on, answers 10 recovery codes once, signs out the
// user's other sessions (not this one) and is audited.
func TestMFA_Confirm(t *testing.T) {
	ts := newTestServer(t)
	u, pair := ts.signUp("ada@example.com")
	other := ts.login("ada@example.com")
	auth1 := []string{bearer(pair.AccessToken)}
	want(t, ts.do("POST", "/v1/me/mfa/totp/confirm", map[string]string{"code": "123456"}, auth1...), 400, "invalid_request", nil) // nothing pending
	secret := ts.startEnrol(pair.AccessToken)
	wrong := "000000"
	if ts.code(secret) == wrong {
		wrong = "000001"
	}
	tests := []struct {
		name       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"no code", map[string]string{}, 400, "invalid_request"},
		{"malformed code", map[string]string{"code": "12345"}, 400, "invalid_request"},
		{"recovery-shaped code", map[string]string{"code": "abcd-efgh-ijkl-mnop-qrst-uvwx"}, 400, "invalid_request"},
		{"wrong code", map[string]string{"code": wrong}, 403, "forbidden"},
		{"code of two steps ago", map[string]string{"code": auth.TOTPCode(secret, ts.clock.Now().Add(-2*auth.TOTPPeriod))}, 403, "forbidden"},
		{"right code with a space", map[string]string{"code": ts.code(secret)[:3] + " " + ts.code(secret)[3:]}, 200, ""},
	}
	var out struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want(t, ts.do("POST", "/v1/me/mfa/totp/confirm", tc.body, auth1...), tc.wantStatus, tc.wantCode, &out)
		})
	}
	if len(out.RecoveryCodes) != 10 {
		t.Fatalf("recovery codes = %v", out.RecoveryCodes)
	}
	for _, c := range out.RecoveryCodes {
		if !recoveryCodeShape.MatchString(c) {
			t.Errorf("recovery code %q is not xxxx-xxxx-xxxx-xxxx-xxxx-xxxx", c)
		}
	}
	want(t, ts.do("POST", "/v1/me/mfa/totp/confirm", map[string]string{"code": ts.nextCode(secret)}, auth1...), 409, "conflict", nil)
	want(t, ts.do("GET", "/v1/me", nil, bearer(other.AccessToken)), 401, "unauthorized", nil)
	var me struct {
		User struct {
			ID         string `json:"id"`
			MFAEnabled bool   `json:"mfa_enabled"`
		}
	}
	want(t, ts.do("GET", "/v1/me", nil, auth1...), 200, "", &me)
	if !me.User.MFAEnabled || me.User.ID != u.ID {
		t.Errorf("GET /v1/me = %+v, want mfa_enabled", me.User)
	}
	ts.wantEvent("user.mfa_enabled", u.ID, u.ID)
}

// wantEvent fails unless the audit log holds action by actor on target.
func (ts *testServer) wantEvent(action, actor, target string) {
	ts.t.Helper()
	events, err := ts.db.Events(context.Background(), "", 500)
	if err != nil {
		ts.t.Fatal(err)
	}
	for _, e := range events {
		if e.Action == action && e.ActorID == actor && e.TargetID == target {
			return
		}
	}
	ts.t.Errorf("no %s event by %s on %s in %+v", action, actor, target, events)
}

func TestMFA_Login(t *testing.T) {
	ts := newTestServer(t)
	m := ts.enrolMFA("ada@example.com")
	_, _ = ts.signUp("bob@example.com")
	reused := ts.nextCode(m.secret)
	want(t, ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, reused)), 200, "", nil)
	tests := []struct {
		name       string
		body       any
		wantStatus int
		wantDetail string
		wantHeader string
	}{
		{"wrong password, no code", loginBody("ada@example.com", "not the password", ""), 401, "invalid email or password", ""},
		{"wrong password, right code", loginBody("ada@example.com", "not the password", ts.aheadCode(m.secret)), 401, "invalid email or password", ""},
		{"no code", loginBody("ada@example.com", testPassword, ""), 401, mfaRequiredDetail, "required"},
		{"wrong code", loginBody("ada@example.com", testPassword, "99999x"), 401, "invalid email or password", ""},
		{"replayed code", loginBody("ada@example.com", testPassword, reused), 401, "invalid email or password", ""},
		{"spent recovery code", loginBody("ada@example.com", testPassword, "aaaa-aaaa-aaaa-aaaa-aaaa-aaaa"), 401, "invalid email or password", ""},
		{"user without MFA, code ignored", loginBody("bob@example.com", testPassword, "123456"), 200, "", ""},
		{"user without MFA, no code", loginBody("bob@example.com", testPassword, ""), 200, "", ""},
		{"next step's code", loginBody("ada@example.com", testPassword, ts.aheadCode(m.secret)), 200, "", ""},
		{"recovery code, upper case", loginBody("ada@example.com", testPassword, strings.ToUpper(m.recovery[0])), 200, "", ""},
		{"the same recovery code again", loginBody("ada@example.com", testPassword, m.recovery[0]), 401, "invalid email or password", ""},
		{"another recovery code, spaced", loginBody("ada@example.com", testPassword, strings.ReplaceAll(m.recovery[1], "-", " ")), 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := ts.do("POST", "/v1/auth/login", tc.body)
			var pair tokenPair
			if tc.wantStatus == 200 {
				want(t, rec, 200, "", &pair)
				if pair.AccessToken == "" {
					t.Error("no access token")
				}
			} else {
				want(t, rec, tc.wantStatus, "unauthorized", nil)
				if got := errorDetail(t, rec); got != tc.wantDetail {
					t.Errorf("detail = %q, want %q", got, tc.wantDetail)
				}
			}
			if got := rec.Header().Get("X-Keygate-MFA"); got != tc.wantHeader {
				t.Errorf("X-Keygate-MFA = %q, want %q", got, tc.wantHeader)
			}
		})
	}
	ts.wantEvent("user.mfa_recovery_code_used", m.ID, m.ID)
}

// Wrong codes count as failed logins: past five, the pair backs off even
// with the right code. Asking without a code is not a failure.
func TestMFA_Login_WrongCodesBackOff(t *testing.T) {
	ts := newTestServer(t)
	m := ts.enrolMFA("ada@example.com")
	for range 8 {
		want(t, ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, "")), 401, "unauthorized", nil)
	}
	for i := range 6 {
		want(t, ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, "00000"+string(rune('0'+i)))), 401, "unauthorized", nil)
	}
	want(t, ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, ts.aheadCode(m.secret))), 429, "rate_limited", nil)
}

// Two logins with one code at once: exactly one gets a session.
func TestMFA_Login_ConcurrentReplay(t *testing.T) {
	ts := newTestServer(t)
	m := ts.enrolMFA("ada@example.com")
	code := ts.nextCode(m.secret)
	var wg sync.WaitGroup
	statuses := make(chan int, 6)
	for range 6 {
		wg.Go(func() {
			statuses <- ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, code)).Code
		})
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for s := range statuses {
		switch s {
		case 200:
			ok++
		case 401:
		default:
			t.Errorf("status %d", s)
		}
	}
	if ok != 1 {
		t.Errorf("%d logins with one code, want 1", ok)
	}
}

func TestMFA_Disable(t *testing.T) {
	ts := newTestServer(t)
	m := ts.enrolMFA("ada@example.com")
	auth1 := bearer(m.pair.AccessToken)
	tests := []struct {
		name       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"no code", map[string]string{"password": testPassword}, 400, "invalid_request"},
		{"wrong password", map[string]string{"password": "not the password", "code": ts.nextCode(m.secret)}, 403, "forbidden"},
		{"wrong code", map[string]string{"password": testPassword, "code": "abcd-efgh-ijkl-mnop-qrst-uvwx"}, 403, "forbidden"},
		{"used step", map[string]string{"password": testPassword, "code": auth.TOTPCode(m.secret, ts.clock.Now().Add(-2*auth.TOTPPeriod))}, 403, "forbidden"},
		{"ok with a TOTP code", map[string]string{"password": testPassword, "code": ts.nextCode(m.secret)}, 204, ""},
		{"not on", map[string]string{"password": testPassword, "code": ts.nextCode(m.secret)}, 409, "conflict"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want(t, ts.do("POST", "/v1/me/mfa/disable", tc.body, auth1), tc.wantStatus, tc.wantCode, nil)
		})
	}
	want(t, ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, "")), 200, "", nil)
	ts.wantEvent("user.mfa_disabled", m.ID, m.ID)

	// With a recovery code, too.
	m2 := ts.enrolMFA("bob@example.com")
	want(t, ts.do("POST", "/v1/me/mfa/disable", map[string]string{"password": testPassword, "code": m2.recovery[9]}, bearer(m2.pair.AccessToken)), 204, "", nil)
}

// New recovery codes void the old ones.
func TestMFA_RecoveryCodes(t *testing.T) {
	ts := newTestServer(t)
	_, plain := ts.signUp("bob@example.com")
	want(t, ts.do("POST", "/v1/me/mfa/recovery-codes", map[string]string{"password": testPassword, "code": "123456"}, bearer(plain.AccessToken)), 409, "conflict", nil)
	m := ts.enrolMFA("ada@example.com")
	want(t, ts.do("POST", "/v1/me/mfa/recovery-codes", map[string]string{"password": "not the password", "code": ts.nextCode(m.secret)}, bearer(m.pair.AccessToken)), 403, "forbidden", nil)
	var out struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	rec := ts.do("POST", "/v1/me/mfa/recovery-codes", map[string]string{"password": testPassword, "code": m.recovery[0]}, bearer(m.pair.AccessToken))
	want(t, rec, 200, "", &out)
	if len(out.RecoveryCodes) != 10 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("recovery codes = %v, headers %v", out.RecoveryCodes, rec.Header())
	}
	want(t, ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, m.recovery[1])), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, out.RecoveryCodes[0])), 200, "", nil)
	ts.wantEvent("user.mfa_recovery_codes_replaced", m.ID, m.ID)
}

// An admin turns a user's MFA off (lost device): the user is signed out
// everywhere and logs in with the password alone.
func TestMFA_AdminDisable(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	m := ts.enrolMFA("ada@example.com")
	tests := []struct {
		name       string
		path       string
		header     string
		wantStatus int
		wantCode   string
	}{
		{"not an admin", "/v1/admin/users/" + m.ID + "/mfa", bearer(m.pair.AccessToken), 403, "forbidden"},
		{"unknown user", "/v1/admin/users/usr_nobody/mfa", bearer(admin.AccessToken), 404, "not_found"},
		{"ok", "/v1/admin/users/" + m.ID + "/mfa", bearer(admin.AccessToken), 204, ""},
		{"again", "/v1/admin/users/" + m.ID + "/mfa", bearer(admin.AccessToken), 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want(t, ts.do("DELETE", tc.path, nil, tc.header), tc.wantStatus, tc.wantCode, nil)
		})
	}
	want(t, ts.do("GET", "/v1/me", nil, bearer(m.pair.AccessToken)), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, "")), 200, "", nil)
	ts.wantEvent("user.mfa_disabled", claimsOf(t, admin.AccessToken)["sub"].(string), m.ID)
	var list struct {
		Users []struct {
			Email      string `json:"email"`
			MFAEnabled *bool  `json:"mfa_enabled"`
		}
	}
	want(t, ts.do("GET", "/v1/admin/users", nil, bearer(admin.AccessToken)), 200, "", &list)
	for _, u := range list.Users {
		if u.MFAEnabled == nil || *u.MFAEnabled {
			t.Errorf("%s: mfa_enabled = %v, want false", u.Email, u.MFAEnabled)
		}
	}
}

// Admin user views carry mfa_enabled.
func TestMFA_AdminViews(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	m := ts.enrolMFA("ada@example.com")
	var list struct {
		Users []struct {
			ID         string `json:"id"`
			MFAEnabled bool   `json:"mfa_enabled"`
		}
	}
	want(t, ts.do("GET", "/v1/admin/users", nil, bearer(admin.AccessToken)), 200, "", &list)
	got := map[string]bool{}
	for _, u := range list.Users {
		got[u.ID] = u.MFAEnabled
	}
	if len(got) != 2 || !got[m.ID] {
		t.Errorf("mfa_enabled by user = %v", got)
	}
	var one struct {
		User struct {
			MFAEnabled bool `json:"mfa_enabled"`
		}
	}
	want(t, ts.do("PATCH", "/v1/admin/users/"+m.ID, map[string]any{"tiers": []string{"basic", "pro"}}, bearer(admin.AccessToken)), 200, "", &one)
	if !one.User.MFAEnabled {
		t.Error("PATCH answer: mfa_enabled false")
	}
}

// A password reset does not turn MFA off.
func TestMFA_SurvivesPasswordReset(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	m := ts.enrolMFA("ada@example.com")
	var issued struct{ Token string }
	want(t, ts.do("POST", "/v1/admin/users/"+m.ID+"/password-reset", nil, bearer(admin.AccessToken)), 201, "", &issued)
	want(t, ts.do("POST", "/v1/auth/password-reset", map[string]string{"token": issued.Token, "new_password": "a brand new one"}), 204, "", nil)
	rec := ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", "a brand new one", ""))
	want(t, rec, 401, "unauthorized", nil)
	if rec.Header().Get("X-Keygate-MFA") != "required" {
		t.Error("MFA off after a password reset")
	}
}

// MFA state is committed: it survives a restart, used steps included.
func TestMFA_SurvivesRestart(t *testing.T) {
	ts := newTestServer(t)
	m := ts.enrolMFA("ada@example.com")
	code := ts.nextCode(m.secret)
	want(t, ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, code)), 200, "", nil)
	ts.restart()
	want(t, ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, code)), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/login", loginBody("ada@example.com", testPassword, ts.nextCode(m.secret))), 200, "", nil)
}

// The management routes share the login backoff: guessing codes with a
// stolen access token and password stops past five tries.
func TestMFA_ManagementBacksOff(t *testing.T) {
	ts := newTestServer(t)
	m := ts.enrolMFA("ada@example.com")
	for i := range 6 {
		body := map[string]string{"password": testPassword, "code": "00000" + string(rune('0'+i))}
		want(t, ts.do("POST", "/v1/me/mfa/disable", body, bearer(m.pair.AccessToken)), 403, "forbidden", nil)
	}
	body := map[string]string{"password": testPassword, "code": ts.aheadCode(m.secret)}
	want(t, ts.do("POST", "/v1/me/mfa/disable", body, bearer(m.pair.AccessToken)), 429, "rate_limited", nil)
	ts.clock.Advance(time.Minute) // the wait is over
	body["code"] = ts.code(m.secret)
	want(t, ts.do("POST", "/v1/me/mfa/disable", body, bearer(m.pair.AccessToken)), 204, "", nil)
}
