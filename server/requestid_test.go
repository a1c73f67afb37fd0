package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/keygate/keygate/server"
)

func TestRequestID(t *testing.T) {
	var access bytes.Buffer
	ts := newTestServer(t, func(c *server.Config) {
		c.AccessLog = slog.New(slog.NewJSONHandler(&access, nil))
	})
	// Every response has one, errors included, and each is new.
	a, b := ts.do("GET", "/healthz", nil), ts.do("GET", "/nope", nil)
	idA, idB := a.Header().Get("X-Request-Id"), b.Header().Get("X-Request-Id")
	if idA == "" || idB == "" || idA == idB {
		t.Fatalf("ids %q and %q", idA, idB)
	}
	// A well-formed incoming id is kept; anything else is replaced.
	if got := ts.do("GET", "/healthz", nil, "X-Request-Id: trace-42.a_b:c").Header().Get("X-Request-Id"); got != "trace-42.a_b:c" {
		t.Errorf("kept id = %q", got)
	}
	for _, bad := range []string{"has space", "quote\"", strings.Repeat("a", 129), "new\u00e9"} {
		if got := ts.do("GET", "/healthz", nil, "X-Request-Id: "+bad).Header().Get("X-Request-Id"); got == bad || got == "" {
			t.Errorf("incoming %q gave %q", bad, got)
		}
	}
	// The access log has a JSON line per request, with its id and status.
	lines := strings.Split(strings.TrimSpace(access.String()), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d access log lines, want 7:\n%s", len(lines), access.String())
	}
	var first struct {
		Msg, Method, Path, RequestID string
		Status                       int
	}
	if err := json.Unmarshal([]byte(lines[1]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Method != "GET" || first.Path != "/nope" || first.Status != 404 {
		t.Errorf("access line = %s", lines[1])
	}
	if !strings.Contains(lines[1], `"request_id":"`+idB+`"`) {
		t.Errorf("access line lacks the request id %s: %s", idB, lines[1])
	}
}
