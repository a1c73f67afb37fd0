package server_test

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/storage"
)

// New passwords: at least 8 characters as well as 8 bytes (ASVS 6.2.1), and
// none of the words a guesser tries first against this account and
// service (ASVS 6.2.11), on every route that sets one.
func TestNewPasswordRules(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.KeyPrefix = "acme_key_" })
	tests := []struct {
		name, email, password, wantDetail string
	}{
		{"5 characters in 10 bytes", "ada@example.com", "ééééé", "password: must be at least 8 characters"},
		{"7 bytes", "ada@example.com", "1234567", "password: must be 8 to 72 bytes"},
		{"the key prefix", "ada@example.com", "my ACME_KEY_ pass", `password: must not contain "acme_key_", a word of this service`},
		{"the issuer", "ada@example.com", "KeyGate-is-great", "password: must not contain the service's name"},
		{"a label of the email's domain", "ada@northwind.io", "northwind-rocks-9", "password: must not contain your email address or a part of it"},
		{"the email's local part", "margaret@b.io", "Margaret1234", "password: must not contain your email address or a part of it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := ts.do("POST", "/v1/auth/register", map[string]string{"email": tc.email, "password": tc.password})
			want(t, rec, 400, "invalid_request", nil)
			if got := errorDetail(t, rec); got != tc.wantDetail {
				t.Errorf("detail = %q, want %q", got, tc.wantDetail)
			}
		})
	}
	want(t, ts.do("POST", "/v1/auth/register", map[string]string{"email": "ada@example.com", "password": "日本語のパスワード"}), 201, "", nil)

	// Changing the password checks the length in characters, too.
	_, pair := ts.signUp("bob@example.com")
	rec := ts.do("POST", "/v1/me/password", map[string]string{"current_password": testPassword, "new_password": "ééééé"}, bearer(pair.AccessToken))
	want(t, rec, 400, "invalid_request", nil)
	if got := errorDetail(t, rec); got != "new_password: must be at least 8 characters" {
		t.Errorf("detail = %q", got)
	}
	// ... and the words of this service.
	rec = ts.do("POST", "/v1/me/password", map[string]string{"current_password": testPassword, "new_password": "acme_key_1234"}, bearer(pair.AccessToken))
	want(t, rec, 400, "invalid_request", nil)
	if got := errorDetail(t, rec); got != `new_password: must not contain "acme_key_", a word of this service` {
		t.Errorf("detail = %q", got)
	}
}

// The token issuer is a word of the service, whatever it is configured to.
func TestNewPasswordRules_Issuer(t *testing.T) {
	db, err := storage.Open(filepath.Join(t.TempDir(), "keygate.db"), storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tokens, err := auth.NewTokens(auth.TokenOptions{Secret: testSecret, Issuer: "https://login.northwind.test", AccessTTL: time.Minute, RefreshTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := auth.NewHasher(4)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(testConfig(&clock{now: time.Now()}), db, tokens, hasher)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"email":"ada@example.com","password":"x https://LOGIN.northwind.test x"}`
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/v1/auth/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	srv.ServeHTTP(rec, req)
	want(t, rec, 400, "invalid_request", nil)
	if got, wantDetail := errorDetail(t, rec), `password: must not contain "https://login.northwind.test", a word of this service`; got != wantDetail {
		t.Errorf("detail = %q, want %q", got, wantDetail)
	}
}
