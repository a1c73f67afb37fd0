package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Upstream connection settings. The pool is generous so that a busy route
// reuses its connections instead of dialling one per request.
const (
	defaultUpstreamTimeout = 60 * time.Second
	upstreamDialTimeout    = 10 * time.Second
	upstreamIdleConns      = 256
	upstreamIdleTimeout    = 90 * time.Second
)

// The headers keygate sets on the way to the upstream. A client's own
// copies of these, and of anything else under X-Keygate-, never get there.
const (
	headerKeyID  = "X-Keygate-Key-Id"
	headerUserID = "X-Keygate-User-Id"
	headerTier   = "X-Keygate-Tier"
)

// proxyIdentityKey is the context key under which a proxied request
// carries its caller's identity to the Rewrite function.
type proxyIdentityKey struct{}

// proxyIdentity is who a proxied request is from: the key that passed and
// its tier.
type proxyIdentity struct {
	key  *keyEntry
	tier *tier
}

// newProxy returns the handler that proxies a route to its upstream. It
// returns an error when rt.Upstream is not an http:// or https:// URL with
// a host (and no query, fragment or user info).
//
// One httputil.ReverseProxy and one connection pool (upstreamTransport)
// serve the route, so connections to the upstream are reused across
// requests; for a plain http:// upstream the direct path (directProxy)
// serves the common requests without ReverseProxy. The outbound request
// goes to the upstream's base path joined with the inbound path,
// with the upstream's own Host (the client's is in X-Forwarded-Host). The
// upstream has rt.UpstreamTimeout (zero: 60s) to send its response headers,
// or the client gets a 504; the body may then stream for as long as the
// upstream keeps sending, because the handler lifts the server's write
// deadline. A streamed response (text/event-stream, or one of unknown
// length) is flushed to the client as it arrives.
func (s *Server) newProxy(rt Route) (keyHandler, error) {
	p, err := s.newRouteProxy(rt)
	if err != nil {
		return nil, err
	}
	return p.serve, nil
}

// routeProxy is a route's proxy: ReverseProxy, and the direct path in
// front of it when the upstream allows (nil otherwise).
type routeProxy struct {
	s      *Server
	rp     *httputil.ReverseProxy
	direct *directProxy
}

func (s *Server) newRouteProxy(rt Route) (*routeProxy, error) {
	target, err := upstreamURL(rt.Upstream)
	if err != nil {
		return nil, fmt.Errorf("server: route %s %s: %w", rt.Method, rt.Path, err)
	}
	timeout := rt.UpstreamTimeout
	if timeout <= 0 {
		timeout = defaultUpstreamTimeout
	}
	transport := upstreamTransport(target, timeout)
	rp := &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { s.rewrite(pr, target) },
		Transport:      transport,
		ModifyResponse: dropUpstreamLimitHeaders,
		ErrorHandler:   s.proxyError,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BufferPool:     newCopyBuffers(),
	}
	return &routeProxy{s: s, rp: rp, direct: s.newDirectProxy(target, transport, rp)}, nil
}

// serve is the route's keyHandler.
func (p *routeProxy) serve(w http.ResponseWriter, r *http.Request, e *keyEntry, t *tier) error {
	if r.ContentLength > p.s.cfg.MaxBodyBytes {
		return &http.MaxBytesError{Limit: p.s.cfg.MaxBodyBytes}
	}
	if p.direct != nil && p.direct.directEligible(r) {
		p.direct.serve(w, r, e, t) // lifts the write deadline if it has to wait long
		return nil
	}
	if err := liftWriteDeadline(w); err != nil {
		return err
	}
	p.s.reverseProxy(p.rp, w, r, e, t, nil)
	return nil
}

// liftWriteDeadline removes the server's WriteTimeout from the client's
// connection, which would cut a long wait or a long stream short. A
// writer without deadlines (a test recorder) has nothing to lift.
func liftWriteDeadline(w http.ResponseWriter) error {
	if err := http.NewResponseController(w).SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// reverseProxy proxies r through rp. res, if not nil, is the response the
// direct path has already read for r: rp gets it from the transport
// instead of sending r again.
func (s *Server) reverseProxy(rp *httputil.ReverseProxy, w http.ResponseWriter, r *http.Request, e *keyEntry, t *tier, res *http.Response) {
	if res == nil && r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	}
	ctx := context.WithValue(r.Context(), proxyIdentityKey{}, proxyIdentity{key: e, tier: t})
	if res != nil {
		ctx = context.WithValue(ctx, readyResponseKey{}, res)
	}
	rp.ServeHTTP(w, r.WithContext(ctx))
}

// upstreamURL parses a route's upstream, refusing what the proxy could not
// use faithfully: SetURL would drop user info, and a query or fragment on
// a base URL has no clear meaning.
func upstreamURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("upstream %q must be an http:// or https:// URL with a host and no query, fragment or user info", raw)
	}
	return u, nil
}

// upstreamTransport is a route's connection pool: the lean one for a plain
// http:// upstream, http.Transport (which it also falls back to) for
// https:// and where the lean one cannot tell a closed idle connection.
func upstreamTransport(target *url.URL, headerTimeout time.Duration) http.RoundTripper {
	std := newUpstreamTransport(headerTimeout)
	if target.Scheme != "http" || !leanSupported {
		return std
	}
	port := target.Port()
	if port == "" {
		port = "80"
	}
	return newLeanTransport(target.Host, net.JoinHostPort(target.Hostname(), port), headerTimeout, std)
}

// newUpstreamTransport is one route's connection pool. Proxies from the
// environment are not consulted: the configuration names the upstream,
// and that is where keygate connects. Compression is left to the client
// and the upstream, so bodies pass through byte for byte.
func newUpstreamTransport(headerTimeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: upstreamDialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          upstreamIdleConns,
		MaxIdleConnsPerHost:   upstreamIdleConns,
		IdleConnTimeout:       upstreamIdleTimeout,
		TLSHandshakeTimeout:   upstreamDialTimeout,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: headerTimeout,
		DisableCompression:    true,
	}
}

// rewrite builds the outbound request: the upstream URL, X-Forwarded-*,
// no credential and no client-sent identity, then keygate's identity.
// ReverseProxy has already removed the hop-by-hop and X-Forwarded-*
// headers from pr.Out.
func (s *Server) rewrite(pr *httputil.ProxyRequest, target *url.URL) {
	pr.SetURL(target)
	s.setForwarded(pr)
	h := pr.Out.Header
	for name := range h {
		if isClientIdentityHeader(name) {
			delete(h, name)
		}
	}
	id, _ := pr.In.Context().Value(proxyIdentityKey{}).(proxyIdentity)
	if id.key == nil || id.tier == nil {
		return // unreachable: the handler always sets it; send no identity rather than a wrong one
	}
	h.Set(headerKeyID, id.key.id)
	h.Set(headerUserID, id.key.userID)
	h.Set(headerTier, id.tier.name)
}

// setForwarded sets X-Forwarded-For, -Host and -Proto. A client's own
// values are dropped, unless the peer is a trusted proxy: then its chain,
// host and protocol are kept, and the peer is appended to the chain.
func (s *Server) setForwarded(pr *httputil.ProxyRequest) {
	in := pr.In.Header
	peer := peerAddr(pr.In.RemoteAddr)
	trusted := peer.IsValid() && s.trusted(peer)
	if trusted {
		pr.Out.Header["X-Forwarded-For"] = in["X-Forwarded-For"]
	}
	pr.SetXForwarded()
	if !trusted {
		return
	}
	for _, name := range [...]string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v := in.Get(name); v != "" {
			pr.Out.Header.Set(name, v)
		}
	}
}

// isClientIdentityHeader reports whether a request header must not reach
// the upstream: the caller's credential, or anything claiming a keygate
// identity. Names are compared case-insensitively with '_' as '-', because
// many upstream stacks (CGI, WSGI, Rack, nginx with underscores_in_headers)
// read X_Keygate_User_Id as X-Keygate-User-Id.
func isClientIdentityHeader(name string) bool {
	return foldedPrefix(name, "x-keygate-") || foldedEqual(name, "authorization") || foldedEqual(name, "x-api-key")
}

func foldedEqual(name, lower string) bool {
	return len(name) == len(lower) && foldedPrefix(name, lower)
}

// foldedPrefix reports whether name starts with lower (which is lower case
// and uses '-'), ignoring ASCII case and reading '_' as '-'.
func foldedPrefix(name, lower string) bool {
	if len(name) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// dropUpstreamLimitHeaders removes the upstream's RateLimit* and
// X-RateLimit* headers: ReverseProxy adds upstream headers to the ones
// already set, and the client must see keygate's limits, once. The
// upstream's Retry-After passes: keygate never sets one on a request it
// admitted, so an upstream 503 or 429 may say when to come back.
func dropUpstreamLimitHeaders(res *http.Response) error {
	for name := range res.Header {
		if foldedPrefix(name, "ratelimit") || foldedPrefix(name, "x-ratelimit") {
			delete(res.Header, name)
		}
	}
	return nil
}

// proxyError answers a request the upstream did not: 502 when it could
// not be reached or broke the connection, 504 when it was too slow, 413
// when the client's body was too large. A client that went away gets
// nothing: cancelling its context has already cancelled the upstream call.
func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		s.log.DebugContext(r.Context(), "client went away during proxying",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
		return
	}
	s.writeError(w, r, upstreamError(err))
}

// upstreamError maps a failed round trip to what the client sees, keeping
// the cause for the log.
func upstreamError(err error) error {
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("%w: %w", errGatewayTimeout("the upstream did not answer in time"), err)
	}
	return fmt.Errorf("%w: %w", errBadGateway("the upstream could not be reached"), err)
}

// copyBuffers lends ReverseProxy its body copy buffers, which it would
// otherwise allocate (32 KiB) for every response. It is safe for
// concurrent use.
type copyBuffers struct{ pool sync.Pool }

const copyBufferSize = 32 << 10

func newCopyBuffers() *copyBuffers {
	return &copyBuffers{pool: sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}}
}

func (c *copyBuffers) Get() []byte { return *c.pool.Get().(*[]byte) }

// Put takes back a buffer from Get. Keeping a pointer per buffer would
// need a map; allocating the small slice header here is cheaper.
func (c *copyBuffers) Put(b []byte) {
	if cap(b) != copyBufferSize {
		return
	}
	b = b[:copyBufferSize]
	c.pool.Put(&b)
}
