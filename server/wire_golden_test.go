package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/server"
)

// TestProtectedRoute_WireBytes pins, byte for byte, what net/http sends for
// the protected route's commonest answers: an admission, the 429 of each
// limit and the 401 of an unknown key. The hot path builds these by hand
// (pooled header values, shared refusals, JSON written without
// encoding/json); a change there must not move a byte. Only the Date line
// and the key's id, which differ per run, are masked.
func TestProtectedRoute_WireBytes(t *testing.T) {
	c := dialWire(t, limiter.Limits{PerMinute: 2, PerDay: 3})
	ts, k := c.ts, c.k
	send := func(key, body string) string { return c.chat(key, "X-Request-Id: req-1\r\n", body) }
	unknown := "kg_live_" + strings.Repeat("A", 43)

	// 12:00:00 UTC: the day resets in 12 h, a minute token comes back every 30 s.
	// (Content-Length counts the key's real id, not KEYID.)
	check(t, "admitted", send(k.Key, `{"message":"h\u00e9<b>"}`), "HTTP/1.1 200 OK\r\n"+
		"Content-Type: application/json\r\n"+
		"Ratelimit: \"minute\";r=1;t=30, \"day\";r=2;t=43200\r\n"+
		"Ratelimit-Policy: \"minute\";q=2;w=60, \"day\";q=3;w=86400\r\n"+
		"X-Content-Type-Options: nosniff\r\n"+
		"X-Ratelimit-Limit: 2\r\n"+
		"X-Ratelimit-Remaining: 1\r\n"+
		"X-Ratelimit-Reset: 30\r\n"+
		"X-Request-Id: req-1\r\n"+
		"Date: DATE\r\n"+
		"Content-Length: 80\r\n"+
		"\r\n"+
		`{"reply":"hé\u003cb\u003e","key_id":"KEYID","tier":"basic"}`+"\n")
	send(k.Key, `{"message":"hi"}`)
	ts.clock.Advance(10 * time.Second)
	check(t, "over the minute", send(k.Key, `{"message":"hi"}`), "HTTP/1.1 429 Too Many Requests\r\n"+
		"Content-Type: application/json\r\n"+
		"Ratelimit: \"minute\";r=0;t=50, \"day\";r=1;t=43190\r\n"+
		"Ratelimit-Policy: \"minute\";q=2;w=60, \"day\";q=3;w=86400\r\n"+
		"Retry-After: 21\r\n"+
		"X-Content-Type-Options: nosniff\r\n"+
		"X-Ratelimit-Limit: 2\r\n"+
		"X-Ratelimit-Remaining: 0\r\n"+
		"X-Ratelimit-Reset: 50\r\n"+
		"X-Request-Id: req-1\r\n"+
		"Date: DATE\r\n"+
		"Content-Length: 63\r\n"+
		"\r\n"+
		`{"error":"rate_limited","detail":"Rate limit exceeded: 2/min"}`+"\n")
	ts.clock.Advance(time.Minute)
	send(k.Key, `{"message":"hi"}`)
	check(t, "over the day", send(k.Key, `{"message":"hi"}`), "HTTP/1.1 429 Too Many Requests\r\n"+
		"Content-Type: application/json\r\n"+
		"Ratelimit: \"minute\";r=1;t=30, \"day\";r=0;t=43130\r\n"+
		"Ratelimit-Policy: \"minute\";q=2;w=60, \"day\";q=3;w=86400\r\n"+
		"Retry-After: 43130\r\n"+
		"X-Content-Type-Options: nosniff\r\n"+
		"X-Ratelimit-Limit: 2\r\n"+
		"X-Ratelimit-Remaining: 1\r\n"+
		"X-Ratelimit-Reset: 30\r\n"+
		"X-Request-Id: req-1\r\n"+
		"Date: DATE\r\n"+
		"Content-Length: 64\r\n"+
		"\r\n"+
		`{"error":"rate_limited","detail":"Daily limit exceeded: 3/day"}`+"\n")
	check(t, "unknown key", send(unknown, `{"message":"hi"}`), "HTTP/1.1 401 Unauthorized\r\n"+
		"Content-Type: application/json\r\n"+
		"Www-Authenticate: Bearer realm=\"keygate\"\r\n"+
		"X-Content-Type-Options: nosniff\r\n"+
		"X-Request-Id: req-1\r\n"+
		"Date: DATE\r\n"+
		"Content-Length: 52\r\n"+
		"\r\n"+
		`{"error":"unauthorized","detail":"invalid API key"}`+"\n")
}

var dateLine = regexp.MustCompile(`(?m)^Date: [^\r]*\r$`)

// readRawResponse reads one response as sent, with its Date masked as DATE
// and keyID as KEYID.
// wireConn is one keep-alive connection to a test server whose tier basic
// has the limits dialWire was given, and which holds one key, k.
type wireConn struct {
	t    *testing.T
	ts   *testServer
	k    key
	conn net.Conn
	br   *bufio.Reader
}

func dialWire(t *testing.T, lim limiter.Limits) *wireConn {
	t.Helper()
	c := &wireConn{t: t, ts: newTestServer(t, func(c *server.Config) { c.Tiers["basic"] = lim })}
	_, pair := c.ts.signUp("ada@example.com")
	c.k = c.ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	hs := httptest.NewServer(c.ts.Server)
	t.Cleanup(hs.Close)
	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c.conn, c.br = conn, bufio.NewReader(conn)
	return c
}

// chat sends POST /v1/chat with key, the extra header lines (each ending
// in CRLF) and body, and returns the raw response with k's id masked.
func (c *wireConn) chat(key, headers, body string) string {
	c.t.Helper()
	fmt.Fprintf(c.conn, "POST /v1/chat HTTP/1.1\r\nHost: keygate\r\nAuthorization: Bearer %s\r\n%s"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", key, headers, len(body), body)
	return readRawResponse(c.t, c.br, c.k.ID)
}

func readRawResponse(t *testing.T, br *bufio.Reader, keyID string) string {
	t.Helper()
	var head strings.Builder
	length := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the response: %v (so far %q)", err, head.String())
		}
		head.WriteString(line)
		if name, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ": "); ok && http.CanonicalHeaderKey(name) == "Content-Length" {
			if length, err = strconv.Atoi(v); err != nil {
				t.Fatalf("Content-Length %q", v)
			}
		}
		if line == "\r\n" {
			break
		}
	}
	if length < 0 {
		t.Fatalf("no Content-Length in %q", head.String())
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		t.Fatal(err)
	}
	raw := dateLine.ReplaceAllString(head.String(), "Date: DATE\r") + string(body)
	return strings.ReplaceAll(raw, keyID, "KEYID")
}

func check(t *testing.T, name, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: response\n%q\nwant\n%q", name, got, want)
	}
}

// TestProtectedRoute_WireBodies sends bodies the handler reads, and ones a
// refusal does not need, over one keep-alive connection: each is answered
// and the connection serves the next request. A refused client that asked
// Expect: 100-continue is not asked for its body.
func TestProtectedRoute_WireBodies(t *testing.T) {
	c := dialWire(t, limiter.Limits{PerMinute: 2, PerDay: 100})
	k, conn, br := c.k, c.conn, c.br
	send := func(key, body string) string { return c.chat(key, "", body) }
	status := func(raw string) string { return strings.SplitN(raw, "\r\n", 2)[0] }
	unknown := "kg_live_" + strings.Repeat("A", 43)

	// A key spelt with an escape: parseMessage leaves it to encoding/json,
	// which reads the body again after the fast path has closed it.
	if got := send(k.Key, `{"m\u0065ssage":"escaped"}`); !strings.HasSuffix(got, `{"reply":"escaped","key_id":"KEYID","tier":"basic"}`+"\n") {
		t.Fatalf("escaped key: %q", got)
	}
	for _, body := range []string{`{"message":"hi"}`, strings.Repeat(" ", 5000) + "{}", strings.Repeat(" ", 4096)} {
		if got := status(send(unknown, body)); got != "HTTP/1.1 401 Unauthorized" {
			t.Fatalf("unknown key, %d-byte body: %q", len(body), got)
		}
	}
	if got := status(send(k.Key, `{"message":"hi"}`)); got != "HTTP/1.1 200 OK" {
		t.Fatalf("after the refusals: %q", got)
	}
	for _, body := range []string{`{"message":"hi"}`, strings.Repeat(" ", 5000) + "{}"} {
		if got := status(send(k.Key, body)); got != "HTTP/1.1 429 Too Many Requests" {
			t.Fatalf("over the limit, %d-byte body: %q", len(body), got)
		}
	}

	// Expect: 100-continue, and no body sent: the refusal comes at once.
	fmt.Fprintf(conn, "POST /v1/chat HTTP/1.1\r\nHost: keygate\r\nAuthorization: Bearer %s\r\n"+
		"Expect: 100-continue\r\nContent-Length: 10\r\n\r\n", unknown)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got := status(readRawResponse(t, br, k.ID)); got != "HTTP/1.1 401 Unauthorized" {
		t.Fatalf("Expect: 100-continue: %q", got)
	}
}
