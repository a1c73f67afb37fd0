package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"time"
)

// leanTransport is the http.RoundTripper under a route's ReverseProxy when
// the upstream is plain http://. http.Transport hands every request to two
// goroutines per connection (one writes, one reads) and flushes the
// request's headers before its body; on a busy single core those handoffs
// and the extra write cost more than the rest of the hop. leanTransport
// writes the request and reads the response on the caller's goroutine, on
// a pooled connection, with headers and a small body in one write.
//
// For most requests the route's directProxy does without ReverseProxy and
// RoundTrip, on this transport's pool; what it leaves to ReverseProxy
// comes here.
//
// It hands anything unusual to fallback: a protocol upgrade, Expect:
// 100-continue, CONNECT, or a request for another host. Its response bodies
// are not safe for a Close concurrent with a Read, which ReverseProxy
// never does.
//
// Caveat: the request is written in full before the response is read, so
// an upstream that answers early without reading a large body, and keeps
// the connection open without reading, is waited on until the client
// gives up. Bodies are capped by max_body_bytes, which socket buffers
// usually hold.
type leanTransport struct {
	addr     string        // host:port dialled
	host     string        // the URL host a request must name to be served here
	timeout  time.Duration // for the response headers, from the end of the request
	dialer   net.Dialer
	pool     connPool
	fallback http.RoundTripper
}

// Limits of the lean path. maxResponseHeaderBytes bounds what a broken
// upstream can make keygate buffer; max1xx bounds informational answers.
const (
	smallRequestBody       = 2 << 10
	maxResponseHeaderBytes = 1 << 20
	max1xxResponses        = 5
)

var (
	// errClosedIdle: a pooled connection ended before any byte of the
	// response; the upstream closed it while it sat idle.
	errClosedIdle = errors.New("upstream closed an idle connection")
	// errHeaderTimeout is a net.Error with Timeout true, so the client
	// gets a 504.
	errHeaderTimeout = &headerTimeoutError{}
)

type headerTimeoutError struct{}

func (*headerTimeoutError) Error() string   { return "timeout awaiting response headers" }
func (*headerTimeoutError) Timeout() bool   { return true }
func (*headerTimeoutError) Temporary() bool { return true }

// newLeanTransport serves requests for host (a URL's host, maybe without
// a port) by dialling addr (host:port), and hands the rest to fallback.
func newLeanTransport(host, addr string, headerTimeout time.Duration, fallback http.RoundTripper) *leanTransport {
	t := &leanTransport{
		addr:     addr,
		host:     host,
		timeout:  headerTimeout,
		dialer:   net.Dialer{Timeout: upstreamDialTimeout, KeepAlive: 30 * time.Second},
		fallback: fallback,
	}
	t.pool.max, t.pool.idleTimeout = upstreamIdleConns, upstreamIdleTimeout
	return t
}

// RoundTrip sends req on a pooled connection, or a new one. A request that
// cannot have had an effect (no body, idempotent) is retried once on a
// new connection when a pooled one turns out to have been closed.
func (t *leanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if res, ok := req.Context().Value(readyResponseKey{}).(*http.Response); ok {
		res.Request = req
		return res, nil
	}
	if !t.handles(req) {
		return t.fallback.RoundTrip(req)
	}
	pc := t.pool.get()
	for {
		if pc == nil {
			var err error
			if pc, err = t.dial(req.Context()); err != nil {
				return nil, err
			}
		}
		res, err := t.roundTrip(req, pc)
		if err == nil || !pc.reused || !errors.Is(err, errClosedIdle) || !replayable(req) {
			return res, err
		}
		pc = nil
	}
}

// handles reports whether req may take the lean path.
func (t *leanTransport) handles(req *http.Request) bool {
	h := req.Header
	return req.URL.Scheme == "http" && req.URL.Host == t.host && req.Method != http.MethodConnect &&
		h["Upgrade"] == nil && h["Expect"] == nil
}

// replayable is http.Transport's rule for retrying after a pooled
// connection failed: no body, and a method (or key) saying it is safe.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header["Idempotency-Key"] != nil || req.Header["X-Idempotency-Key"] != nil
}

func (t *leanTransport) dial(ctx context.Context) (*poolConn, error) {
	c, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	return newPoolConn(c), nil
}

// roundTrip does one exchange on pc, which it owns: on error pc is closed;
// on success the response body returns it to the pool or closes it.
func (t *leanTransport) roundTrip(req *http.Request, pc *poolConn) (*http.Response, error) {
	ctx := req.Context()
	// A client that goes away unblocks whatever pc is doing.
	stop := context.AfterFunc(ctx, pc.abort)
	res, err := t.exchange(ctx, req, pc)
	if err != nil {
		stop()
		pc.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	b := &leanBody{rc: res.Body, pc: pc, pool: &t.pool, stop: stop, keep: !res.Close && !req.Close}
	if res.Body == http.NoBody {
		b.release(true)
	} else {
		res.Body = b
	}
	return res, nil
}

// exchange writes req and reads the response headers.
func (t *leanTransport) exchange(ctx context.Context, req *http.Request, pc *poolConn) (*http.Response, error) {
	werr := pc.writeRequest(req)
	if pc.bodyErr != nil {
		return nil, pc.bodyErr // the client's body failed: too large, or the client went away
	}
	res, err := t.readResponse(ctx, req, pc)
	if werr != nil {
		if err != nil {
			return nil, fmt.Errorf("writing the request: %w", werr)
		}
		res.Close = true // the upstream answered without reading it all: the connection is spent
	}
	return res, err
}

// readResponse reads the response headers, within the header timeout,
// skipping informational answers as http.Transport does.
func (t *leanTransport) readResponse(ctx context.Context, req *http.Request, pc *poolConn) (*http.Response, error) {
	if err := t.awaitResponse(ctx, pc); err != nil {
		return nil, err
	}
	var got1xx func(int, textproto.MIMEHeader) error
	if tr := httptrace.ContextClientTrace(ctx); tr != nil {
		got1xx = tr.Got1xxResponse
	}
	return readHead(ctx, req, pc, got1xx)
}

// awaitResponse waits, within the header timeout, for the first byte of
// the response, and limits how much of a head pc may read. A pooled
// connection that ends before that byte was closed while idle.
func (t *leanTransport) awaitResponse(ctx context.Context, pc *poolConn) error {
	if err := pc.setReadDeadline(ctx, time.Now().Add(t.timeout)); err != nil {
		return err
	}
	pc.limit = maxResponseHeaderBytes
	if _, err := pc.br.Peek(1); err != nil {
		if pc.reused && (errors.Is(err, io.EOF) || errors.Is(err, errConnReset)) {
			return fmt.Errorf("%w: %w", errClosedIdle, err)
		}
		return headerReadError(err)
	}
	return nil
}

// readHead reads the response head with http.ReadResponse, passing
// informational answers to got1xx (if not nil) and skipping them, and
// lifts the read deadline for the body.
func readHead(ctx context.Context, req *http.Request, pc *poolConn, got1xx func(int, textproto.MIMEHeader) error) (*http.Response, error) {
	for n := 0; ; n++ {
		res, err := http.ReadResponse(pc.br, req)
		if err != nil {
			return nil, headerReadError(err)
		}
		code := res.StatusCode
		if code == http.StatusSwitchingProtocols {
			return nil, errors.New("upstream switched protocols unasked")
		}
		if code >= 200 || code < 100 {
			pc.limit = -1
			return res, pc.setReadDeadline(ctx, time.Time{})
		}
		if n == max1xxResponses {
			return nil, errors.New("upstream sent too many 1xx responses")
		}
		if got1xx != nil {
			if err := got1xx(code, textproto.MIMEHeader(res.Header)); err != nil {
				return nil, err
			}
		}
	}
}

// headerReadError names a timeout as the header timeout.
func headerReadError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errHeaderTimeout
	}
	return err
}

// leanBody is a response body on a pooled connection. Read to its end, it
// returns the connection to the pool if both sides allow keep-alive;
// closed early, it closes the connection rather than drain a stream.
type leanBody struct {
	rc   io.ReadCloser
	pc   *poolConn
	pool *connPool
	stop func() bool // stops the cancel hook; false once it has run
	keep bool
	eof  bool
	done bool
}

var errBodyClosed = errors.New("read on a closed upstream body")

func (b *leanBody) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.done {
		return 0, errBodyClosed
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
		b.release(true)
	}
	return n, err
}

func (b *leanBody) Close() error {
	b.release(false)
	return nil
}

// release gives the connection back or closes it, once. A connection with
// unread bytes after a complete response holds something unasked for.
func (b *leanBody) release(complete bool) {
	if b.done {
		return
	}
	b.done = true
	if b.stop() && complete && b.keep && b.pc.br.Buffered() == 0 {
		b.pool.put(b.pc)
		return
	}
	b.pc.close()
}
