package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/storage"
)

// A Go program mounts keygate's API on its own mux and protects its own
// routes with RequireKey.
func ExampleServer_RequireKey() {
	dir, _ := os.MkdirTemp("", "keygate-example")
	defer os.RemoveAll(dir)
	db, err := storage.Open(filepath.Join(dir, "keygate.db"), storage.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	tokens, _ := auth.NewTokens(auth.TokenOptions{
		Secret: []byte(strings.Repeat("s", 32)), Issuer: "my-app", AccessTTL: 15 * time.Minute, RefreshTTL: 24 * time.Hour,
	})
	passwords, _ := auth.NewHasher(10)
	kg, err := server.New(server.Config{
		AllowSignup: true,
		Tiers:       map[string]limiter.Limits{"basic": {PerMinute: 60, PerDay: 10000}},
	}, db, tokens, passwords)
	if err != nil {
		log.Fatal(err)
	}
	// Run writes usage counters behind; stop it before closing the database.
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- kg.Run(ctx) }()
	defer func() { stop(); <-done }()

	mux := http.NewServeMux()
	mux.Handle("/v1/", kg) // sign-up, login, keys: keygate's whole API
	mux.Handle("GET /reports", kg.RequireKey("basic")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := server.KeyFromContext(r.Context())
		fmt.Fprintf(w, "reports for %s (tier %s)", key.UserID[:4], key.Tier)
	})))

	call := func(method, path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	creds := `{"email":"ada@example.com","password":"correct horse battery"}`
	call("POST", "/v1/auth/register", "", creds)
	var login struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(call("POST", "/v1/auth/login", "", creds).Body).Decode(&login)
	var key struct{ Key string }
	json.NewDecoder(call("POST", "/v1/keys", login.AccessToken, `{"name":"reports"}`).Body).Decode(&key)

	fmt.Println(call("GET", "/reports", "", "").Code)
	ok := call("GET", "/reports", key.Key, "")
	fmt.Println(ok.Code, ok.Body, ok.Header().Get("X-RateLimit-Remaining"))
	// Output:
	// 401
	// 200 reports for usr_ (tier basic) 59
}

// The metrics can be served away from the API, on a listener only the
// monitoring system reaches.
func ExampleServer_MetricsHandler() {
	dir, _ := os.MkdirTemp("", "keygate-example")
	defer os.RemoveAll(dir)
	db, err := storage.Open(filepath.Join(dir, "keygate.db"), storage.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	kg, err := server.New(server.Config{
		Tiers:  map[string]limiter.Limits{"basic": {PerMinute: 60, PerDay: 10000}},
		Routes: []server.Route{{Method: "POST", Path: "/v1/chat", Tiers: []string{"basic"}}},
	}, db, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	monitoring := http.NewServeMux() // served on, say, 127.0.0.1:9100
	monitoring.Handle("GET /metrics", kg.MetricsHandler())

	req := httptest.NewRequest("POST", "/v1/chat", strings.NewReader(`{"message":"hi"}`))
	req.Header.Set("X-API-Key", "kg_live_nosuchkey")
	kg.ServeHTTP(httptest.NewRecorder(), req)

	rec := httptest.NewRecorder()
	monitoring.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "keygate_http_requests_total") || strings.HasPrefix(line, `keygate_key_checks_total{outcome="not_found"}`) {
			fmt.Print(line)
		}
	}
	// Output:
	// keygate_http_requests_total{route="POST /v1/chat",code="401"} 1
	// keygate_key_checks_total{outcome="not_found"} 1
}
