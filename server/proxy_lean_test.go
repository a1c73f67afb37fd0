package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// rawUpstream is an upstream written against the socket, for what a
// well-behaved server never does. serve runs once per connection, with
// the connection's number (from 1).
type rawUpstream struct {
	conns atomic.Int64
	wg    sync.WaitGroup
}

func newRawUpstream(t *testing.T, serve func(n int64, c net.Conn, br *bufio.Reader)) (*rawUpstream, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{}
	var mu sync.Mutex
	var open []net.Conn
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			n := u.conns.Add(1)
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer c.Close()
				serve(n, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		u.wg.Wait()
	})
	return u, "http://" + ln.Addr().String()
}

// readRequest reads one request and its body, reporting false at the end
// of the connection.
func readRequest(br *bufio.Reader) (*http.Request, string, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, "", false
	}
	body, err := io.ReadAll(req.Body)
	return req, string(body), err == nil
}

func reply(c net.Conn, body string) {
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// TestProxy_UpstreamClosedIdleConn: an upstream that closes a connection
// after answering on it (as servers do after their keep-alive timeout)
// costs nothing: the next request, with a body or not, goes out on a new
// connection.
func TestProxy_UpstreamClosedIdleConn(t *testing.T) {
	closed := make(chan struct{}, 10)
	_, url := newRawUpstream(t, func(n int64, c net.Conn, br *bufio.Reader) {
		if _, _, ok := readRequest(br); ok {
			reply(c, fmt.Sprintf("conn %d", n))
		}
		c.Close()
		closed <- struct{}{}
	})
	ts := newTestServer(t, withUpstream(url, 0), highLimits)
	raw := proxyKey(ts, "ada@example.com")
	steps := []struct{ method, path, body, want string }{
		{"POST", "/v1/chat", `{"n":1}`, "conn 1"},
		{"POST", "/v1/chat", `{"n":2}`, "conn 2"},
		{"GET", "/v1/models/a", "", "conn 3"},
		{"POST", "/v1/chat", `{"n":4}`, "conn 4"},
	}
	for _, s := range steps {
		var body any
		if s.body != "" {
			body = s.body
		}
		rec := ts.do(s.method, s.path, body, bearer(raw))
		if rec.Code != http.StatusOK || rec.Body.String() != s.want {
			t.Fatalf("%s %s = %d %q, want 200 %q", s.method, s.path, rec.Code, rec.Body, s.want)
		}
		<-closed // the close has reached keygate's side of the socket
	}
}

// TestProxy_PooledConnDiesMidRequest: a pooled connection the upstream
// drops after reading a request, before any answer. A request without a
// body is retried once on a new connection; one with a body may have had
// its effect, so it is not sent again and the client gets a 502.
func TestProxy_PooledConnDiesMidRequest(t *testing.T) {
	var requests atomic.Int64
	up, url := newRawUpstream(t, func(n int64, c net.Conn, br *bufio.Reader) {
		for i := 0; ; i++ {
			if _, _, ok := readRequest(br); !ok {
				return
			}
			requests.Add(1)
			if i == 1 {
				return // the second request on every connection is dropped
			}
			reply(c, fmt.Sprintf("conn %d", n))
		}
	})
	ts := newTestServer(t, withUpstream(url, 0), highLimits)
	raw := proxyKey(ts, "ada@example.com")

	if rec := ts.do("GET", "/v1/models/a", nil, bearer(raw)); rec.Body.String() != "conn 1" {
		t.Fatalf("first GET = %d %q", rec.Code, rec.Body)
	}
	// Dropped on connection 1, retried on connection 2.
	if rec := ts.do("GET", "/v1/models/a", nil, bearer(raw)); rec.Code != http.StatusOK || rec.Body.String() != "conn 2" {
		t.Fatalf("GET on a dying connection = %d %q, want a retry on conn 2", rec.Code, rec.Body)
	}
	// Each route has its own pool: the POST's first request opens
	// connection 3, its second is dropped there.
	if rec := ts.do("POST", "/v1/chat", `{"pay":1}`, bearer(raw)); rec.Body.String() != "conn 3" {
		t.Fatalf("first POST = %d %q", rec.Code, rec.Body)
	}
	before := requests.Load()
	rec := ts.do("POST", "/v1/chat", `{"pay":2}`, bearer(raw))
	want(t, rec, http.StatusBadGateway, "bad_gateway", nil)
	if sent := requests.Load() - before; sent != 1 {
		t.Errorf("the POST reached the upstream %d times, want once", sent)
	}
	if n := up.conns.Load(); n != 3 {
		t.Errorf("upstream connections = %d, want 3", n)
	}
}

// TestProxy_UnsolicitedBytes: bytes after a complete response were not
// asked for; the connection they came on is not used again.
func TestProxy_UnsolicitedBytes(t *testing.T) {
	up, url := newRawUpstream(t, func(n int64, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, ok := readRequest(br); !ok {
				return
			}
			// One write, so the stray response is there when keygate looks:
			// bytes that arrive only after a connection went back to the
			// pool cannot be told from the next answer (nor can net/http).
			body := fmt.Sprintf("conn %d", n)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"+
				"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra", len(body), body)
		}
	})
	ts := newTestServer(t, withUpstream(url, 0), highLimits)
	raw := proxyKey(ts, "ada@example.com")
	for i := 1; i <= 3; i++ {
		rec := ts.do("GET", "/v1/models/a", nil, bearer(raw))
		if want := fmt.Sprintf("conn %d", i); rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Fatalf("request %d = %d %q, want %q", i, rec.Code, rec.Body, want)
		}
	}
	if n := up.conns.Load(); n != 3 {
		t.Errorf("upstream connections = %d, want 3", n)
	}
}

// TestProxy_ResponseShapes: every way a response can delimit its body (or
// have none) reaches the client intact, and leaves the connection fit for
// the next request unless the response ended it.
func TestProxy_ResponseShapes(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB: more than any buffer
	var conns atomic.Int64
	upSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(r.URL.Path, "/base/v1/models/") {
		case "big":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
		case "chunked":
			w.Header().Set("Trailer", "X-Sum")
			for i := 0; i < len(big); i += 100 << 10 {
				io.WriteString(w, big[i:min(i+100<<10, len(big))])
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Sum", "ok")
		case "no-content":
			w.WriteHeader(http.StatusNoContent)
		case "not-modified":
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		case "head":
			w.Header().Set("Content-Length", "1234") // HEAD: declared, never sent
		case "close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "closing")
		case "until-eof":
			c, bw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread until the end")
			bw.Flush()
			c.Close()
		}
	}))
	upSrv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	upSrv.Start()
	t.Cleanup(upSrv.Close)
	ts := newTestServer(t, withUpstream(upSrv.URL, 0), highLimits)
	raw := proxyKey(ts, "ada@example.com")
	tests := []struct {
		method, name string
		status       int
		body         string
		header       map[string]string
	}{
		{"GET", "big", 200, big, map[string]string{"Content-Length": fmt.Sprint(len(big))}},
		{"GET", "chunked", 200, big, map[string]string{"X-Sum": "ok"}},
		{"GET", "no-content", 204, "", nil},
		{"GET", "not-modified", 304, "", map[string]string{"Etag": `"v1"`}},
		{"HEAD", "head", 200, "", map[string]string{"Content-Length": "1234"}},
		{"GET", "close", 200, "closing", nil},
		{"GET", "until-eof", 200, "read until the end", nil},
	}
	for round := range 2 {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s %s #%d", tc.method, tc.name, round), func(t *testing.T) {
				rec := ts.do(tc.method, "/v1/models/"+tc.name, nil, bearer(raw))
				if rec.Code != tc.status || rec.Body.String() != tc.body {
					t.Fatalf("= %d with %d bytes, want %d with %d", rec.Code, rec.Body.Len(), tc.status, len(tc.body))
				}
				for name, v := range tc.header {
					if got := rec.Result().Header.Get(name); got != v {
						if got = rec.Result().Trailer.Get(name); got != v {
							t.Errorf("%s = %q, want %q", name, got, v)
						}
					}
				}
			})
		}
	}
	// Per round: one connection until "close" ends it, one for until-eof.
	if n := conns.Load(); n != 4 {
		t.Errorf("upstream connections = %d, want 4", n)
	}
}

// TestProxy_RequestBodies: bodies of every size and framing arrive whole,
// and a request with Expect: 100-continue still gets through.
func TestProxy_RequestBodies(t *testing.T) {
	up, upSrv := newRecorder(t)
	ts := newTestServer(t, withUpstream(upSrv.URL, 0), highLimits) // MaxBodyBytes: 4096
	raw := proxyKey(ts, "ada@example.com")
	base := serve(t, ts)
	tests := []struct {
		name    string
		body    func(string) io.Reader
		size    int
		headers []string
	}{
		{"small, with the headers", func(s string) io.Reader { return strings.NewReader(s) }, 100, nil},
		{"larger, after the headers", func(s string) io.Reader { return strings.NewReader(s) }, 4000, nil},
		{"chunked", func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }, 3000, nil},
		{"expect 100-continue", func(s string) io.Reader { return strings.NewReader(s) }, 3000, []string{"Expect", "100-continue"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Repeat("b", tc.size)
			req, _ := http.NewRequest("POST", base+"/v1/chat", tc.body(body))
			req.Header.Set("X-API-Key", raw)
			for i := 0; i < len(tc.headers); i += 2 {
				req.Header.Set(tc.headers[i], tc.headers[i+1])
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got := up.lastRequest().body; res.StatusCode != http.StatusCreated || got != body {
				t.Errorf("= %d, upstream got %d bytes, want %d", res.StatusCode, len(got), len(body))
			}
		})
	}
}

// TestProxy_EarlyHints: informational responses before the real one do
// not end the exchange.
func TestProxy_EarlyHints(t *testing.T) {
	upSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "final")
	}))
	t.Cleanup(upSrv.Close)
	ts := newTestServer(t, withUpstream(upSrv.URL, 0))
	raw := proxyKey(ts, "ada@example.com")
	base := serve(t, ts)
	req, _ := http.NewRequest("GET", base+"/v1/models/x", nil)
	req.Header.Set("X-API-Key", raw)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != "final" {
		t.Errorf("= %d %q, want 200 final", res.StatusCode, body)
	}
}

// TestProxy_ManyConnectionFields: every field the upstream's Connection
// lines name stays on its side, however many lines there are; the direct
// path reads the names of four and leaves longer heads to ReverseProxy.
func TestProxy_ManyConnectionFields(t *testing.T) {
	_, url := newRawUpstream(t, func(n int64, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, ok := readRequest(br); !ok {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: x-a\r\nConnection: x-b\r\nConnection: x-c\r\n"+
				"Connection: x-d\r\nConnection: x-e\r\nX-A: 1\r\nX-E: 5\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	ts := newTestServer(t, withUpstream(url, 0), highLimits)
	raw := proxyKey(ts, "ada@example.com")
	for _, s := range []struct {
		method, path string
		body         any
	}{{"GET", "/v1/models/a", nil}, {"POST", "/v1/chat", `{"n":1}`}} {
		rec := ts.do(s.method, s.path, s.body, bearer(raw))
		h := rec.Result().Header
		if rec.Code != http.StatusOK || rec.Body.String() != "ok" || h.Get("X-Kept") != "yes" {
			t.Fatalf("%s = %d %q, X-Kept %q", s.method, rec.Code, rec.Body, h.Get("X-Kept"))
		}
		for _, name := range []string{"Connection", "X-A", "X-E"} {
			if v, ok := h[name]; ok {
				t.Errorf("%s: %s = %q reached the client", s.method, name, v)
			}
		}
	}
}
