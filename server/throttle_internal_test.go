package server

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/storage"
)

// A flood of distinct client addresses cannot grow the throttles' memory
// without limit (issue 3).
func TestThrottleMemoryIsBounded(t *testing.T) {
	db, err := storage.Open(filepath.Join(t.TempDir(), "k.db"), storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(Config{AllowSignup: true, Tiers: map[string]limiter.Limits{"basic": {PerMinute: 1, PerDay: 1}}}, db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 100_000 {
		addr := fmt.Sprintf("10.%d.%d.%d:1234", i>>16, (i>>8)&255, i&255)
		for _, path := range []string{"/v1/auth/login", "/v1/auth/register"} {
			// An empty body is refused after the address's attempt is
			// counted, without the cost of bcrypt.
			req := httptest.NewRequest("POST", path, strings.NewReader(""))
			req.RemoteAddr = addr
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != 400 {
				t.Fatalf("%s from %s: %d %s", path, addr, rec.Code, rec.Body)
			}
		}
		s.loginFails.FailAt(addr+" ada@example.com", now)
	}
	for name, n := range map[string]int{"login": s.loginLimit.Len(), "signup": s.signupLimit.Len(), "failures": s.loginFails.Len()} {
		if n > 10_000 {
			t.Errorf("%s throttle holds %d addresses after a flood of 100,000", name, n)
		}
	}
}
