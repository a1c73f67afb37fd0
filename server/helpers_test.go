package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/storage"
)

// testSecret is the HS256 secret of every test server.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable time source for the server under test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testServer is a Server over a real database in a temporary directory,
// with a fixed clock and secret.
type testServer struct {
	*server.Server
	t      testing.TB
	db     *storage.DB
	path   string
	clock  *clock
	config server.Config
	tokens auth.TokenOptions
}

// testConfig is the configuration of every test server, before options.
func testConfig(c *clock) server.Config {
	return server.Config{
		AllowSignup:    true,
		MaxBodyBytes:   4096,
		RotationGrace:  time.Hour,
		MaxKeysPerUser: 5,
		Tiers: map[string]limiter.Limits{
			"basic": {PerMinute: 5, PerDay: 20},
			"pro":   {PerMinute: 100, PerDay: 1000},
		},
		Routes: []server.Route{
			{Method: "POST", Path: "/v1/chat", Tiers: []string{"basic", "pro"}},
			{Method: "GET", Path: "/v1/pro-only", Tiers: []string{"pro"}},
		},
		Assets: fstest.MapFS{"index.html": {Data: []byte("<h1>keygate</h1>")}},
		Now:    c.Now,
	}
}

func newTestServer(t testing.TB, opts ...func(*server.Config)) *testServer {
	t.Helper()
	return newTestServerWithTokens(t, auth.TokenOptions{Secret: testSecret}, opts...)
}

// newTestServerWithTokens is newTestServer with other token options
// (issuer, TTLs and clock are filled in).
func newTestServerWithTokens(t testing.TB, tokens auth.TokenOptions, opts ...func(*server.Config)) *testServer {
	t.Helper()
	c := &clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	cfg := testConfig(c)
	for _, o := range opts {
		o(&cfg)
	}
	tokens.Issuer, tokens.Audience, tokens.AccessTTL, tokens.RefreshTTL, tokens.Now = "keygate", "keygate", 30*time.Minute, 168*time.Hour, c.Now
	ts := &testServer{t: t, path: filepath.Join(t.TempDir(), "keygate.db"), clock: c, config: cfg, tokens: tokens}
	ts.open()
	t.Cleanup(func() { ts.db.Close() })
	return ts
}

// open (re)opens the database and builds a fresh server over it, as a
// restart of the process would.
func (ts *testServer) open() {
	ts.t.Helper()
	db, err := storage.Open(ts.path, storage.Options{NoSync: true})
	if err != nil {
		ts.t.Fatal(err)
	}
	tokens, err := auth.NewTokens(ts.tokens)
	if err != nil {
		ts.t.Fatal(err)
	}
	hasher, err := auth.NewHasher(4)
	if err != nil {
		ts.t.Fatal(err)
	}
	srv, err := server.New(ts.config, db, tokens, hasher)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.Server, ts.db = srv, db
}

// restart flushes, closes the database and opens it again.
func (ts *testServer) restart() {
	ts.t.Helper()
	if err := ts.Flush(context.Background()); err != nil {
		ts.t.Fatal(err)
	}
	if err := ts.db.Close(); err != nil {
		ts.t.Fatal(err)
	}
	ts.open()
}

// do sends one request. header is "Name: value" lines; body is sent as is
// when it is a string, else marshalled to JSON.
func (ts *testServer) do(method, path string, body any, header ...string) *httptest.ResponseRecorder {
	ts.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range header {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	rec := httptest.NewRecorder()
	ts.ServeHTTP(rec, req)
	return rec
}

// want checks a response's status and, for errors, its code, and decodes
// the body into v when v is not nil.
func want(t testing.TB, rec *httptest.ResponseRecorder, status int, code string, v any) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if code != "" {
		var e struct{ Error, Detail string }
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("error body %q: %v", rec.Body, err)
		}
		if e.Error != code || e.Detail == "" {
			t.Fatalf("error = %q (%q), want %q with a detail", e.Error, e.Detail, code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type = %q", ct)
		}
	}
	if v != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
	}
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

type user struct {
	ID        string   `json:"id"`
	Email     string   `json:"email"`
	Role      string   `json:"role"`
	Tiers     []string `json:"tiers"`
	Disabled  bool     `json:"disabled"`
	CreatedAt string   `json:"created_at"`
}

type key struct {
	ID                 string  `json:"id"`
	Name               string  `json:"name"`
	Prefix             string  `json:"prefix"`
	Tier               string  `json:"tier"`
	RateLimitPerMinute int     `json:"rate_limit_per_minute"`
	RateLimitPerDay    int64   `json:"rate_limit_per_day"`
	IsActive           bool    `json:"is_active"`
	CreatedAt          string  `json:"created_at"`
	LastUsedAt         *string `json:"last_used_at"`
	ExpiresAt          *string `json:"expires_at"`
	Replaces           string  `json:"replaces"`
	Key                string  `json:"key"`
}

const testPassword = "correct horse battery"

// signUp registers email and logs in, returning the user and a token pair.
func (ts *testServer) signUp(email string) (user, tokenPair) {
	ts.t.Helper()
	var u struct{ User user }
	want(ts.t, ts.do("POST", "/v1/auth/register", map[string]string{"email": email, "password": testPassword}), 201, "", &u)
	return u.User, ts.login(email)
}

func (ts *testServer) login(email string) tokenPair {
	ts.t.Helper()
	var p tokenPair
	want(ts.t, ts.do("POST", "/v1/auth/login", map[string]string{"email": email, "password": testPassword}), 200, "", &p)
	return p
}

// grantTiers gives a user tiers directly in the store, as an admin will.
func (ts *testServer) grantTiers(userID string, tiers ...string) {
	ts.t.Helper()
	if _, err := ts.db.UpdateUser(context.Background(), userID, func(u *storage.User) error {
		u.Tiers = tiers
		return nil
	}); err != nil {
		ts.t.Fatal(err)
	}
}

// newKey creates a key with the given body as the holder of access.
func (ts *testServer) newKey(access string, body any) key {
	ts.t.Helper()
	var k key
	want(ts.t, ts.do("POST", "/v1/keys", body, "Authorization: Bearer "+access), 201, "", &k)
	return k
}

// chat calls the protected echo route with a key.
func (ts *testServer) chat(rawKey string) *httptest.ResponseRecorder {
	ts.t.Helper()
	return ts.do("POST", "/v1/chat", `{"message":"hi"}`, "Authorization: Bearer "+rawKey)
}

func bearer(token string) string { return "Authorization: Bearer " + token }

// claimsOf reads a token's claims without verifying it.
func claimsOf(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(data, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// makeAdmin gives a user the admin role directly in the store, as
// "keygate user create -admin" would have.
func (ts *testServer) makeAdmin(email string) tokenPair {
	ts.t.Helper()
	u, pair := ts.signUp(email)
	if _, err := ts.db.UpdateUser(context.Background(), u.ID, func(u *storage.User) error {
		u.Role = "admin"
		return nil
	}); err != nil {
		ts.t.Fatal(err)
	}
	return pair
}

var _ http.Handler = (*server.Server)(nil)
