package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"os"
	"time"
)

// directProxy proxies a route to a plain http:// upstream without
// ReverseProxy on the common path: it writes the outbound request from the
// inbound one straight into a pooled connection's buffer, parses a simple
// response head (parseHead) into the client's header map and copies the
// body, all on the handler's goroutine. On a busy single core,
// ReverseProxy's request clone, header maps, Request.Write and
// ReadResponse cost more than the upstream's own work.
//
// Whatever it does not handle exactly as ReverseProxy would goes to
// ReverseProxy: a request (directEligible, or a header value writeHead
// refuses) before anything is sent, or a response (1xx, HEAD, 204, 304,
// chunked, streamed, trailers, a large or malformed head) after its head
// has arrived, which ReverseProxy then gets from the transport as if it
// had asked for it (readyResponseKey).
type directProxy struct {
	s        *Server
	lean     *leanTransport
	rp       *httputil.ReverseProxy
	host     string // the Host header, as Request.Write sends target's
	basePath string // target's path, to which the inbound path is joined
	buffers  *copyBuffers
}

// newDirectProxy returns nil when target is not an upstream the direct
// path can write requests for.
func (s *Server) newDirectProxy(target *url.URL, rt http.RoundTripper, rp *httputil.ReverseProxy) *directProxy {
	lean, isLean := rt.(*leanTransport)
	host, basePath, ok := directTarget(target)
	if !isLean || !ok {
		return nil
	}
	bp, _ := rp.BufferPool.(*copyBuffers)
	if bp == nil {
		bp = newCopyBuffers()
	}
	return &directProxy{s: s, lean: lean, rp: rp, host: host, basePath: basePath, buffers: bp}
}

// readyResponseKey is the context key under which the direct path hands
// ReverseProxy a response it has already read.
type readyResponseKey struct{}

type exchangeResult int

const (
	exchangeDone      exchangeResult = iota // answered, or failed and answered
	exchangeRetry                           // a pooled connection was found closed: try a new one
	exchangeNotDirect                       // nothing sent: ReverseProxy takes the request
)

// serve proxies r, which directEligible accepted.
func (d *directProxy) serve(w http.ResponseWriter, r *http.Request, e *keyEntry, t *tier) {
	pc := d.lean.pool.get()
	for {
		if pc == nil {
			var err error
			if pc, err = d.lean.dial(r.Context()); err != nil {
				d.s.proxyError(w, r, err)
				return
			}
		}
		switch d.exchange(w, r, e, t, pc) {
		case exchangeDone:
			return
		case exchangeNotDirect:
			if err := liftWriteDeadline(w); err != nil {
				d.s.writeError(w, r, err)
				return
			}
			d.s.reverseProxy(d.rp, w, r, e, t, nil)
			return
		}
		pc = nil
	}
}

// exchange does one request on pc, which it owns: it goes back to the
// pool or is closed.
func (d *directProxy) exchange(w http.ResponseWriter, r *http.Request, e *keyEntry, t *tier, pc *poolConn) exchangeResult {
	if err := d.writeHead(pc, r, e, t); err != nil {
		d.lean.pool.put(pc) // nothing was sent on it
		return exchangeNotDirect
	}
	c := directCall{ctx: r.Context(), pc: pc, w: w}
	var werr, cerr error
	small := r.ContentLength <= smallRequestBody
	if small && r.ContentLength > 0 {
		pc.wbuf, cerr = appendBody(pc.wbuf, r.Body, r.ContentLength)
	} else if !small {
		c.watch() // writing a large body may block on the upstream
		werr, cerr = d.sendLarge(pc, r)
	}
	if cerr != nil { // the client's body failed: it went away, or lied about its length
		c.unwatch()
		if small {
			d.lean.pool.put(pc) // nothing was sent on it
		} else {
			pc.close()
		}
		d.s.proxyError(w, r, cerr)
		return exchangeDone
	}
	h, res, swerr, err := d.receive(&c, w, r, small)
	if swerr != nil {
		werr = swerr
	}
	if err != nil {
		c.unwatch()
		pc.close()
		if werr == nil && pc.reused && errors.Is(err, errClosedIdle) && replayable(r) {
			return exchangeRetry
		}
		if werr != nil {
			err = fmt.Errorf("writing the request: %w", werr)
		}
		if c.ctx.Err() != nil {
			err = c.ctx.Err()
		}
		d.s.proxyError(w, r, err)
		return exchangeDone
	}
	// An upstream that answered without reading the whole request has
	// spent the connection.
	keep := werr == nil
	if res != nil {
		// ReverseProxy may copy a stream for as long as it lasts (settle
		// has lifted the write deadline).
		c.watch()
		b := &leanBody{rc: res.Body, pc: pc, pool: &d.lean.pool, stop: c.stop, keep: keep && !res.Close}
		if res.Body == http.NoBody {
			b.release(true)
		} else {
			res.Body = b
			defer b.Close() // ReverseProxy closes it; this is in case it never got to
		}
		d.s.reverseProxy(d.rp, w, r, e, t, res)
		return exchangeDone
	}
	d.copyResponse(w, r, &c, &h, keep && !h.close)
	return exchangeDone
}

// directQuickWait is how long the direct path waits for an answer before
// it arranges for a client that goes away to cut the wait short. Most
// answers come sooner, and need not pay for the arrangement; a client
// that leaves is noticed this much later at most.
const directQuickWait = 50 * time.Millisecond

// directCall is one exchange's hold on its connection: the header
// deadline, and what only an exchange that may block for long needs,
// set up once it may: the hook that aborts the connection when the
// client goes away, and the client's write deadline lifted.
type directCall struct {
	ctx      context.Context
	pc       *poolConn
	w        http.ResponseWriter
	stop     func() bool // nil until watch
	deadline time.Time   // for the response head
	quick    bool        // the read deadline is the quick one, before deadline
	lifted   bool        // the client's write deadline is lifted
}

// lift lifts the client's write deadline, once.
func (c *directCall) lift() error {
	if c.lifted {
		return nil
	}
	c.lifted = true
	return liftWriteDeadline(c.w)
}

// watch makes a client that goes away abort the connection.
func (c *directCall) watch() {
	if c.stop == nil {
		c.stop = context.AfterFunc(c.ctx, c.pc.abort)
	}
}

// unwatch removes the hook; false means it has run, and the connection
// is spent.
func (c *directCall) unwatch() bool {
	return c.stop == nil || c.stop()
}

// peek is pc.br.Peek(n) under the header deadline: when the quick wait
// runs out, it watches the client and waits on, up to the deadline.
func (c *directCall) peek(n int) ([]byte, error) {
	b, err := c.pc.br.Peek(n)
	if err != nil && c.quick && errors.Is(err, os.ErrDeadlineExceeded) {
		if err := c.settle(); err != nil {
			return nil, err
		}
		return c.pc.br.Peek(n)
	}
	return b, err
}

// settle leaves the quick wait: the client is watched, its write
// deadline lifted, and the read deadline is the header deadline.
func (c *directCall) settle() error {
	if err := c.lift(); err != nil {
		return err
	}
	if !c.quick {
		return nil
	}
	c.quick = false
	c.watch()
	return c.pc.setReadDeadline(c.ctx, c.deadline)
}

// sendLarge writes the head, then a body too large to go with it, as
// http.Transport sends it, so that an upstream may answer early. A
// failure of the client's body is cerr, one of the upstream's werr.
func (d *directProxy) sendLarge(pc *poolConn, r *http.Request) (werr, cerr error) {
	if _, err := pc.conn.Write(pc.wbuf); err != nil {
		return err, nil
	}
	if cerr, werr = writeBody(pc.bw, r.Body, r.ContentLength); cerr != nil || werr != nil {
		return werr, cerr
	}
	return pc.bw.Flush(), nil
}

// receive sends the request in pc.wbuf if send says so (werr is how
// that went), then waits for the response head. A head parseHead accepts
// is left in the connection's buffer and described by h; any other is
// read by ReadResponse into res.
func (d *directProxy) receive(c *directCall, w http.ResponseWriter, r *http.Request, send bool) (h respHead, res *http.Response, werr, err error) {
	pc := c.pc
	now := time.Now()
	c.deadline = now.Add(d.lean.timeout)
	wait := c.deadline
	if c.stop == nil && d.lean.timeout > directQuickWait {
		wait, c.quick = now.Add(directQuickWait), true
	} else if err := c.lift(); err != nil {
		return h, nil, nil, err
	}
	if err := pc.setReadDeadline(c.ctx, wait); err != nil {
		return h, nil, nil, err
	}
	if send {
		werr = pc.sendAwaiting()
	}
	h, res, err = d.readAnswer(c, w, r)
	return h, res, werr, err
}

// readAnswer reads the response head for receive.
func (d *directProxy) readAnswer(c *directCall, w http.ResponseWriter, r *http.Request) (h respHead, res *http.Response, err error) {
	pc := c.pc
	pc.limit = maxResponseHeaderBytes
	if _, err := c.peek(1); err != nil {
		if pc.reused && (errors.Is(err, io.EOF) || errors.Is(err, errConnReset)) {
			return h, nil, fmt.Errorf("%w: %w", errClosedIdle, err)
		}
		return h, nil, headerReadError(err)
	}
	for r.Method != http.MethodHead {
		buf, _ := pc.br.Peek(pc.br.Buffered())
		var complete, ok bool
		if h, complete, ok = parseHead(buf); !ok {
			break
		}
		if complete {
			pc.limit = -1
			return h, nil, nil
		}
		if len(buf) == pc.br.Size() {
			break // a large head: ReadResponse reads it within the limit
		}
		if _, err := c.peek(len(buf) + 1); err != nil {
			break // ReadResponse meets the error too, and names it
		}
	}
	if err := c.settle(); err != nil {
		return h, nil, err
	}
	// ReverseProxy passes informational answers on as they come.
	got1xx := func(code int, header textproto.MIMEHeader) error {
		h := w.Header()
		copyHeader(h, http.Header(header))
		w.WriteHeader(code)
		clear(h) // WriteHeader does not do it for 1xx
		return nil
	}
	res, err = readHead(c.ctx, r, pc, got1xx)
	return respHead{}, res, err
}

// copyResponse writes the response whose head h is at the start of the
// connection's buffer to the client, then gives the connection back to
// the pool if keep allows and the upstream sent nothing more, or closes
// it.
func (d *directProxy) copyResponse(w http.ResponseWriter, r *http.Request, c *directCall, h *respHead, keep bool) {
	pc := c.pc
	head, _ := pc.br.Peek(h.size)
	raw := string(head)
	_, _ = pc.br.Discard(h.size) // buffered: cannot fail
	copyHead(w.Header(), raw, h)
	w.WriteHeader(h.code)
	if err := d.copyBody(w, c, h.length); err != nil {
		c.unwatch()
		pc.close()
		// As ReverseProxy: the status has gone, so all that is left is to
		// cut the client's connection, which the server does on this panic.
		if r.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler)
		}
		d.s.log.WarnContext(r.Context(), "proxy: copying the upstream's body", slog.Any("err", err))
		return
	}
	// A body that was all buffered leaves the header deadline set on the
	// connection; the next exchange sets its own, and alive copes with one
	// that has passed meanwhile.
	if c.unwatch() && keep && pc.br.Buffered() == 0 {
		d.lean.pool.put(pc)
		return
	}
	pc.close()
}

// copyBody copies n bytes of body from pc to w: what is buffered without
// a copy, the rest through a pooled buffer.
func (d *directProxy) copyBody(w io.Writer, c *directCall, n int64) error {
	pc := c.pc
	for n > 0 && pc.br.Buffered() > 0 {
		b, _ := pc.br.Peek(int(min(int64(pc.br.Buffered()), n)))
		if _, err := w.Write(b); err != nil {
			return err
		}
		_, _ = pc.br.Discard(len(b))
		n -= int64(len(b))
	}
	if n == 0 {
		return nil
	}
	// The rest may take as long as the upstream takes to send it, and
	// the client to take it.
	c.watch()
	if err := c.lift(); err != nil {
		return err
	}
	if err := pc.setReadDeadline(c.ctx, time.Time{}); err != nil {
		return err
	}
	buf := d.buffers.Get()
	defer d.buffers.Put(buf)
	for n > 0 {
		k, err := pc.br.Read(buf[:min(int64(len(buf)), n)])
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return werr
			}
			n -= int64(k)
		}
		if err != nil && n > 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// copyHeader adds src's fields to dst, as ReverseProxy does.
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		for _, v := range vv {
			dst.Add(k, v)
		}
	}
}
