package server_test

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/server"
)

// lockedWriter lets concurrent handlers log into one buffer.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// No log line holds a password, a raw key, its hash or a token, whatever
// the request did.
func TestLogsHoldNoSecrets(t *testing.T) {
	logs := &lockedWriter{}
	ts := newTestServer(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	var rotated key
	want(t, ts.do("POST", "/v1/keys/"+k.ID+"/rotate", `{"grace_seconds":0}`, bearer(pair.AccessToken)), 201, "", &rotated)

	ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": "wrong password!"})
	ts.chat(k.Key)       // revoked by the rotation
	ts.chat(rotated.Key) // fine
	for range 6 {
		ts.chat(rotated.Key) // into the 429s
	}
	ts.do("POST", "/v1/chat", `{"message":`, bearer(rotated.Key))
	ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken})
	ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}) // reuse: logged as a warning

	hash := auth.HashKey(rotated.Key)
	secrets := []string{
		testPassword, "wrong password!", k.Key, rotated.Key, k.Key[12:], rotated.Key[12:],
		pair.AccessToken, pair.RefreshToken, hex.EncodeToString(hash[:]), string(testSecret),
	}
	out := logs.buf.String()
	if !strings.Contains(out, "reused") {
		t.Fatalf("expected the refresh reuse warning in the logs, got %q", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("logs contain a secret %.12q…:\n%s", s, out)
		}
	}
}
