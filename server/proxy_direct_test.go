package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxy_LyingUpstream: an upstream that breaks HTTP gets the client a
// clean 502, or a cut connection once the status has gone, and never
// spoils a pooled connection for the next request.
func TestProxy_LyingUpstream(t *testing.T) {
	bigHeader := "X-Big: " + strings.Repeat("b", 1<<20+10) + "\r\n"
	answers := map[string]string{
		"bad-status":   "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
		"garbage":      "hello\r\n\r\n",
		"two-lengths":  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
		"huge-head":    "HTTP/1.1 200 OK\r\n" + bigHeader + "Content-Length: 0\r\n\r\n",
		"bad-header":   "HTTP/1.1 200 OK\r\nX-A: b\x00\r\nContent-Length: 0\r\n\r\n",
		"unasked-101":  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
		"short-body":   "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		"long-body":    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
		"large-head":   "HTTP/1.1 200 OK\r\nX-Large: " + strings.Repeat("l", 8<<10) + "\r\nContent-Length: 5\r\n\r\nlarge",
		"closes-early": "",
	}
	var good atomic.Int64
	up, url := newRawUpstream(t, func(n int64, c net.Conn, br *bufio.Reader) {
		for {
			req, _, ok := readRequest(br)
			if !ok {
				return
			}
			name := strings.TrimPrefix(req.URL.Path, "/base/v1/models/")
			if name == "good" {
				good.Add(1)
				reply(c, "good")
				continue
			}
			io.WriteString(c, answers[name])
			if name != "long-body" && name != "large-head" {
				return // the connection ends with the lie
			}
		}
	})
	ts := newTestServer(t, withUpstream(url, 0), highLimits)
	raw := proxyKey(ts, "ada@example.com")
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"bad-status", 502, ""},
		{"garbage", 502, ""},
		{"two-lengths", 502, ""},
		{"huge-head", 502, ""},
		{"bad-header", 502, ""},
		{"unasked-101", 502, ""},
		{"closes-early", 502, ""},
		{"long-body", 200, "ok"},
		{"large-head", 200, "large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if rec := ts.do("GET", "/v1/models/good", nil, bearer(raw)); rec.Code != 200 || rec.Body.String() != "good" {
				t.Fatalf("good before = %d %q", rec.Code, rec.Body)
			}
			rec := ts.do("GET", "/v1/models/"+tc.name, nil, bearer(raw))
			if tc.status == 502 {
				want(t, rec, 502, "bad_gateway", nil)
			} else if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Fatalf("= %d %q, want %d %q", rec.Code, rec.Body, tc.status, tc.body)
			}
			before := good.Load()
			if rec := ts.do("GET", "/v1/models/good", nil, bearer(raw)); rec.Code != 200 || rec.Body.String() != "good" {
				t.Fatalf("good after = %d %q", rec.Code, rec.Body)
			}
			if good.Load() != before+1 {
				t.Errorf("the good request reached the upstream %d times", good.Load()-before)
			}
		})
	}
	if n := up.conns.Load(); n < int64(len(tests)) {
		t.Errorf("upstream connections = %d: a lying connection was reused", n)
	}

	// A body cut short once the status is on its way: the client's
	// connection is cut (before or after the buffered status reaches it),
	// rather than left waiting or handed a short body as whole.
	base := serve(t, ts)
	req, _ := http.NewRequest("GET", base+"/v1/models/short-body", nil)
	req.Header.Set("X-API-Key", raw)
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Errorf("short body = %d %q, want a cut connection", res.StatusCode, body)
		}
	}
}

// TestProxy_ClientBodyFails: a client whose body ends before its declared
// length gets a 502, and the upstream never sees a whole request.
func TestProxy_ClientBodyFails(t *testing.T) {
	up, upSrv := newRecorder(t)
	ts := newTestServer(t, withUpstream(upSrv.URL, 0), highLimits)
	raw := proxyKey(ts, "ada@example.com")
	req := httptest.NewRequest("POST", "/v1/chat", io.MultiReader(strings.NewReader("{}"), errReader{}))
	req.ContentLength = 100
	req.Header.Set("X-API-Key", raw)
	rec := httptest.NewRecorder()
	ts.ServeHTTP(rec, req)
	want(t, rec, 502, "bad_gateway", nil)
	if n := up.hits.Load(); n != 0 {
		t.Errorf("upstream handled %d requests", n)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("client went away") }

// TestProxy_SlowAnswers: answers that take longer than the direct path's
// first, short wait still arrive, a head split across writes included;
// the header timeout still holds.
func TestProxy_SlowAnswers(t *testing.T) {
	_, url := newRawUpstream(t, func(n int64, c net.Conn, br *bufio.Reader) {
		for {
			req, _, ok := readRequest(br)
			if !ok {
				return
			}
			switch strings.TrimPrefix(req.URL.Path, "/base/v1/models/") {
			case "late":
				time.Sleep(120 * time.Millisecond)
				reply(c, "late")
			case "split":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
				time.Sleep(120 * time.Millisecond)
				io.WriteString(c, "ngth: 5\r\n\r\nspl")
				time.Sleep(120 * time.Millisecond)
				io.WriteString(c, "it")
			case "too-late":
				time.Sleep(400 * time.Millisecond)
				reply(c, "too late")
			}
		}
	})
	ts := newTestServer(t, withUpstream(url, 300*time.Millisecond), highLimits)
	raw := proxyKey(ts, "ada@example.com")
	for _, name := range []string{"late", "split"} {
		if rec := ts.do("GET", "/v1/models/"+name, nil, bearer(raw)); rec.Code != 200 || rec.Body.String() != name {
			t.Errorf("%s = %d %q", name, rec.Code, rec.Body)
		}
	}
	want(t, ts.do("GET", "/v1/models/too-late", nil, bearer(raw)), 504, "gateway_timeout", nil)
}

// TestProxy_PooledPastDeadline: a connection pooled with its header
// deadline still set is reused after that deadline has passed.
func TestProxy_PooledPastDeadline(t *testing.T) {
	var conns atomic.Int64
	upSrv := httptest.NewUnstartedServer(&recorder{})
	upSrv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	upSrv.Start()
	t.Cleanup(upSrv.Close)
	ts := newTestServer(t, withUpstream(upSrv.URL, 80*time.Millisecond), highLimits)
	raw := proxyKey(ts, "ada@example.com")
	for i := range 3 {
		if rec := ts.do("POST", "/v1/chat", fmt.Sprintf(`{"n":%d}`, i), bearer(raw)); rec.Code != http.StatusCreated {
			t.Fatalf("request %d = %d %s", i, rec.Code, rec.Body)
		}
		time.Sleep(150 * time.Millisecond)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("upstream connections = %d, want 1", n)
	}
}
