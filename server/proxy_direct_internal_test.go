package server

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/storage"
)

// captureUpstream answers every request with 200 "ok" and sends the
// request, as parsed from the wire, on a channel.
func captureUpstream(t *testing.T) (string, <-chan *http.Request) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan *http.Request, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					req.Body = io.NopCloser(bytes.NewReader(body))
					got <- req
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), got
}

// newProxyTestServer is a Server with trusted proxies in 10.0.0.0/8.
func newProxyTestServer(t *testing.T) *Server {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "k.db"), storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := New(Config{
		Tiers:          map[string]limiter.Limits{"basic": {PerMinute: 1, PerDay: 1}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	}, db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDirectProxy_WritesAsReverseProxy: for every request the direct path
// takes, the upstream sees what ReverseProxy would have sent it, header
// order aside.
func TestDirectProxy_WritesAsReverseProxy(t *testing.T) {
	s := newProxyTestServer(t)
	up, got := captureUpstream(t)
	e := &keyEntry{id: "key_1", userID: "usr_1"}
	tr := &tier{name: "basic"}
	tests := []struct {
		name, base, method, target, body, remote string
		header                                   http.Header
		tls                                      bool
	}{
		{name: "small POST", method: "POST", target: "/v1/chat", body: `{"message":"hi"}`,
			header: http.Header{"Content-Type": {"application/json"}, "User-Agent": {"wrk"}, "Authorization": {"Bearer kg_x"}}},
		{name: "base path and query", base: "/base", method: "GET", target: "/v1/models/a:b@c,d?x=1&y=%20z"},
		{name: "base path with a slash", base: "/base/", method: "GET", target: "/v1/models/x"},
		{name: "empty query", method: "GET", target: "/v1/models/x?"},
		{name: "empty POST", method: "POST", target: "/v1/chat"},
		{name: "empty DELETE", method: "DELETE", target: "/v1/chat"},
		{name: "larger PUT", method: "PUT", target: "/v1/chat", body: strings.Repeat("p", 3000)},
		{name: "hop-by-hop", method: "POST", target: "/v1/chat", body: "{}", header: http.Header{
			"Connection": {"X-Drop, keep-alive", "User-Agent"}, "X-Drop": {"1"}, "Keep-Alive": {"timeout=5"},
			"Proxy-Authorization": {"Basic x"}, "Proxy-Connection": {"keep-alive"}, "Te": {"deflate, trailers"},
			"Trailer": {"X-Sum"}, "Transfer-Encoding": {"identity"}, "User-Agent": {"gone"}, "X-Keep": {"a", "b"}}},
		{name: "identity claims", method: "GET", target: "/v1/models/x", header: http.Header{
			"X-Api-Key": {"kg_x"}, "X-Keygate-Tier": {"pro"}, "X_keygate_user_id": {"usr_admin"}, "Authorization": {"Bearer y"}}},
		{name: "untrusted forwarding claims", method: "GET", target: "/v1/models/x", header: http.Header{
			"X-Forwarded-For": {"6.6.6.6"}, "X-Forwarded-Host": {"evil"}, "X-Forwarded-Proto": {"https"}, "Forwarded": {"for=6.6.6.6"}}},
		{name: "trusted forwarding chain", method: "GET", target: "/v1/models/x", remote: "10.1.2.3:4444", header: http.Header{
			"X-Forwarded-For": {"203.0.113.9", "198.51.100.1"}, "X-Forwarded-Host": {"api.example.com"}, "X-Forwarded-Proto": {"https"}}},
		{name: "peer without a port", method: "GET", target: "/v1/models/x", remote: "10.1.2.3"},
		{name: "over TLS", method: "GET", target: "/v1/models/x", tls: true},
		{name: "two user agents", method: "GET", target: "/v1/models/x", header: http.Header{"User-Agent": {"first", "second"}}},
		{name: "empty user agent", method: "GET", target: "/v1/models/x", header: http.Header{"User-Agent": {""}}},
		{name: "no host", method: "GET", target: "/v1/models/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.newRouteProxy(Route{Method: tc.method, Path: "/v1/", Upstream: up + tc.base, UpstreamTimeout: 5 * time.Second})
			if err != nil || p.direct == nil {
				t.Fatalf("newRouteProxy = %v, direct %v", err, p.direct)
			}
			send := func(direct bool) *http.Request {
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				r := httptest.NewRequest(tc.method, tc.target, body)
				for k, v := range tc.header {
					r.Header[k] = slices.Clone(v)
				}
				if tc.remote != "" {
					r.RemoteAddr = tc.remote
				}
				if tc.tls {
					r.TLS = &tls.ConnectionState{}
				}
				if tc.name == "no host" {
					r.Host = ""
				}
				w := httptest.NewRecorder()
				if direct {
					if !p.direct.directEligible(r) {
						t.Fatal("not eligible for the direct path")
					}
					p.direct.serve(w, r, e, tr)
				} else {
					s.reverseProxy(p.rp, w, r, e, tr, nil)
				}
				if w.Code != 200 || w.Body.String() != "ok" {
					t.Fatalf("direct=%v: %d %q", direct, w.Code, w.Body)
				}
				return <-got
			}
			viaRP, viaDirect := send(false), send(true)
			if viaDirect.Method != viaRP.Method || viaDirect.RequestURI != viaRP.RequestURI || viaDirect.Host != viaRP.Host ||
				viaDirect.ContentLength != viaRP.ContentLength || !reflect.DeepEqual(viaDirect.TransferEncoding, viaRP.TransferEncoding) {
				t.Errorf("direct sent %s %s Host %q length %d %v, ReverseProxy %s %s Host %q length %d %v",
					viaDirect.Method, viaDirect.RequestURI, viaDirect.Host, viaDirect.ContentLength, viaDirect.TransferEncoding,
					viaRP.Method, viaRP.RequestURI, viaRP.Host, viaRP.ContentLength, viaRP.TransferEncoding)
			}
			if !reflect.DeepEqual(viaDirect.Header, viaRP.Header) {
				t.Errorf("headers differ:\ndirect %v\nproxy  %v", viaDirect.Header, viaRP.Header)
			}
			b1, _ := io.ReadAll(viaDirect.Body)
			b2, _ := io.ReadAll(viaRP.Body)
			if !bytes.Equal(b1, b2) {
				t.Errorf("bodies differ: %q, %q", b1, b2)
			}
		})
	}
}

// TestDirectProxy_Eligible: what the direct path leaves to ReverseProxy.
func TestDirectProxy_Eligible(t *testing.T) {
	s := newProxyTestServer(t)
	p, err := s.newRouteProxy(Route{Method: "GET", Path: "/v1/", Upstream: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(r *http.Request)
		want   bool
	}{
		{"plain", func(*http.Request) {}, true},
		{"unknown length", func(r *http.Request) { r.ContentLength = -1 }, false},
		{"upgrade", func(r *http.Request) { r.Header.Set("Upgrade", "websocket") }, false},
		{"expect", func(r *http.Request) { r.Header.Set("Expect", "100-continue") }, false},
		{"connect", func(r *http.Request) { r.Method = http.MethodConnect }, false},
		{"method not a token", func(r *http.Request) { r.Method = "GET /x HTTP/1.1\r\nX:" }, false},
		{"parsed form", func(r *http.Request) { r.ParseForm() }, false},
		{"escaped path", func(r *http.Request) { r.URL.RawPath = "/v1/a%2Fb"; r.URL.Path = "/v1/a/b" }, false},
		{"path to escape", func(r *http.Request) { r.URL.Path = "/v1/a b" }, false},
		{"percent in path", func(r *http.Request) { r.URL.Path = "/v1/100%" }, false},
		{"semicolon query", func(r *http.Request) { r.URL.RawQuery = "a=1;b=2" }, false},
		{"broken escape in query", func(r *http.Request) { r.URL.RawQuery = "a=%zz" }, false},
		{"truncated escape in query", func(r *http.Request) { r.URL.RawQuery = "a=%2" }, false},
		{"good escape in query", func(r *http.Request) { r.URL.RawQuery = "a=%2F" }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/x", nil)
			tc.mutate(r)
			if got := p.direct.directEligible(r); got != tc.want {
				t.Errorf("eligible = %v, want %v", got, tc.want)
			}
		})
	}
	for _, up := range []string{"https://127.0.0.1:1", "http://127.0.0.1:1/a%20b", "http://127.0.0.1:1/a%2Fb"} {
		if p, err := s.newRouteProxy(Route{Method: "GET", Path: "/v1/", Upstream: up}); err != nil || p.direct != nil {
			t.Errorf("upstream %s: direct = %v, %v; want none", up, p.direct, err)
		}
	}
}

// TestDirectProxy_UnwritableValue: a header value Request.Write would
// trim is left to ReverseProxy, and the connection it was being written
// to goes back to the pool unused.
func TestDirectProxy_UnwritableValue(t *testing.T) {
	s := newProxyTestServer(t)
	up, got := captureUpstream(t)
	p, err := s.newRouteProxy(Route{Method: "GET", Path: "/v1/", Upstream: up})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(v string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/x", nil)
		r.Header["X-Odd"] = []string{v}
		w := httptest.NewRecorder()
		p.direct.serve(w, r, &keyEntry{id: "key_1", userID: "usr_1"}, &tier{name: "basic"})
		return w
	}
	for _, v := range []string{" padded", "tab\t"} {
		if w := serve(v); w.Code != 200 {
			t.Fatalf("%q: %d %s", v, w.Code, w.Body)
		}
		if req := <-got; req.Header.Get("X-Odd") != strings.Trim(v, " \t") {
			t.Errorf("%q arrived as %q", v, req.Header.Get("X-Odd"))
		}
	}
	if n := len(p.direct.lean.pool.idle); n != 1 {
		t.Errorf("idle connections = %d, want 1", n)
	}
	// A header name that is not a token (which net/http's server never
	// makes) cannot split the request: the direct path refuses to write it.
	r := httptest.NewRequest("GET", "/v1/x", nil)
	r.Header["X-A\r\nX-Injected"] = []string{"1"}
	if err := p.direct.writeHead(&poolConn{}, r, &keyEntry{id: "key_1"}, &tier{name: "basic"}); err != errNotDirect {
		t.Errorf("writeHead of a name with CRLF = %v, want errNotDirect", err)
	}
	// A control character goes out as ReverseProxy sends it, and the
	// upstream refuses it.
	if w := serve("nul\x00"); w.Code != http.StatusBadGateway {
		t.Errorf("NUL: %d %s, want 502", w.Code, w.Body)
	}
}

// deadlineRecorder is a ResponseWriter that counts the write deadlines
// set on it, as a server connection's would be.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	lifts int
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	if t.IsZero() {
		d.lifts++
	}
	return nil
}

// TestDirectProxy_LiftsWriteDeadlineToWait: the client's write deadline
// is lifted when the exchange may outlast it (a late answer, a body
// still to come), and left alone for a quick, small one.
func TestDirectProxy_LiftsWriteDeadlineToWait(t *testing.T) {
	s := newProxyTestServer(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/late":
			time.Sleep(2 * directQuickWait)
			io.WriteString(w, "late")
		case "/v1/big":
			io.WriteString(w, strings.Repeat("b", 100<<10))
		default:
			io.WriteString(w, "quick")
		}
	}))
	t.Cleanup(up.Close)
	p, err := s.newRouteProxy(Route{Method: "GET", Path: "/v1/", Upstream: up.URL})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *deadlineRecorder {
		w := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
		p.direct.serve(w, httptest.NewRequest("GET", path, nil), &keyEntry{id: "key_1", userID: "usr_1"}, &tier{name: "basic"})
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		return w
	}
	for _, path := range []string{"/v1/late", "/v1/big"} {
		if w := get(path); w.lifts != 1 {
			t.Errorf("%s: %d lifts, want 1", path, w.lifts)
		}
	}
	// A loaded machine may make even a quick answer late now and then.
	lifts := 0
	for range 5 {
		if lifts = get("/v1/quick").lifts; lifts == 0 {
			break
		}
	}
	if lifts != 0 {
		t.Errorf("a quick answer lifted the write deadline")
	}
}
