package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// connPool keeps a route's idle upstream connections, most recently used
// last, so that a quiet period lets the oldest ones time out. It is safe
// for concurrent use.
type connPool struct {
	max         int           // idle connections kept; more are closed
	idleTimeout time.Duration // an idle connection older than this is closed

	mu       sync.Mutex
	idle     []*poolConn // guarded by mu; oldest first
	sweeping bool        // guarded by mu; a sweep is scheduled
}

// get returns an idle connection that is still open, or nil. A connection
// the upstream closed while it sat idle is found here, before a request
// is written to it, whenever the close has already arrived.
func (p *connPool) get() *poolConn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		pc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if time.Since(pc.idleAt) < p.idleTimeout && pc.alive() {
			pc.reused = true
			return pc
		}
		pc.close()
	}
}

// put makes pc available to the next request.
func (p *connPool) put(pc *poolConn) {
	pc.idleAt = time.Now()
	p.mu.Lock()
	if len(p.idle) >= p.max {
		p.mu.Unlock()
		pc.close()
		return
	}
	p.idle = append(p.idle, pc)
	schedule := !p.sweeping
	p.sweeping = true
	p.mu.Unlock()
	if schedule {
		time.AfterFunc(p.idleTimeout, p.sweep)
	}
}

// sweep closes the connections idle for longer than idleTimeout, so that
// a pool nobody uses any more (a route replaced by Reload) lets go of its
// connections, and schedules itself again while any are left.
func (p *connPool) sweep() {
	cutoff := time.Now().Add(-p.idleTimeout)
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && p.idle[n].idleAt.Before(cutoff) {
		n++
	}
	stale := make([]*poolConn, n)
	copy(stale, p.idle[:n])
	p.idle = append(p.idle[:0], p.idle[n:]...)
	clear(p.idle[len(p.idle):cap(p.idle)])
	p.sweeping = len(p.idle) > 0
	again := p.sweeping
	p.mu.Unlock()
	for _, pc := range stale {
		pc.close()
	}
	if again {
		time.AfterFunc(p.idleTimeout, p.sweep)
	}
}

// poolConn is one upstream connection and its buffers. It is used by one
// request at a time.
type poolConn struct {
	conn    net.Conn
	raw     syscall.RawConn // for the liveness check; nil if the conn has none
	peekFn  func(fd uintptr) bool
	peekErr error
	br      *bufio.Reader // reads through Read, so that limit applies
	bw      *bufio.Writer
	limit   int64 // bytes Read may still return; negative: no limit
	idleAt  time.Time
	reused  bool // it came from the pool

	// The direct path's request, head and small body, and what its
	// write-then-wait (writeWait) did; the method value is made once, so
	// that passing it allocates nothing.
	wbuf        []byte
	wrote       int // bytes of wbuf written by writeWait; -1: not called
	wroteErr    error
	writeWaitFn func(fd uintptr) bool

	// The request being written, with its body wrapped to tell the
	// client's failures from the upstream's; kept here to save
	// allocations, and cleared once written.
	req     http.Request
	body    trackedBody
	bodyErr error
}

func newPoolConn(c net.Conn) *poolConn {
	pc := &poolConn{conn: c, limit: -1}
	pc.br = bufio.NewReader(pc)
	pc.bw = bufio.NewWriter(c)
	if sc, ok := c.(syscall.Conn); ok {
		pc.raw, _ = sc.SyscallConn() // without it, alive trusts the connection
	}
	pc.peekFn = pc.peek
	pc.writeWaitFn = pc.writeWait
	return pc
}

var errHeaderTooLarge = &headerTooLargeError{}

type headerTooLargeError struct{}

func (*headerTooLargeError) Error() string {
	return "upstream response headers exceed the limit"
}

// Read reads from the connection, within limit while it applies.
func (pc *poolConn) Read(p []byte) (int, error) {
	if pc.limit >= 0 {
		if pc.limit == 0 {
			return 0, errHeaderTooLarge
		}
		if int64(len(p)) > pc.limit {
			p = p[:pc.limit]
		}
	}
	n, err := pc.conn.Read(p)
	if pc.limit >= 0 {
		pc.limit -= int64(n)
	}
	return n, err
}

// writeRequest writes req and flushes it. A small body goes out with the
// headers in one write; a larger one or one of unknown length follows
// them, as http.Transport sends it, so an upstream may answer early.
func (pc *poolConn) writeRequest(req *http.Request) error {
	pc.bodyErr = nil
	r := req
	if req.Body != nil && req.Body != http.NoBody {
		pc.req = *req
		pc.body = trackedBody{rc: req.Body, err: &pc.bodyErr}
		pc.req.Body = &pc.body
		r = &pc.req
	}
	var w io.Writer = pc.bw
	if req.ContentLength >= 0 && req.ContentLength <= smallRequestBody {
		w = coalescingWriter{pc.bw}
	}
	err := r.Write(w)
	if err == nil {
		err = pc.bw.Flush()
	}
	pc.req, pc.body = http.Request{}, trackedBody{}
	return err
}

// coalescingWriter is a buffered writer that Request.Write does not
// recognise as a *bufio.Writer, so it does not flush the headers on their
// own before the body.
type coalescingWriter struct{ *bufio.Writer }

// trackedBody records the first error reading the client's body.
type trackedBody struct {
	rc  io.ReadCloser
	err *error
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF && *b.err == nil {
		*b.err = err
	}
	return n, err
}

func (b *trackedBody) Close() error { return b.rc.Close() }

// aLongTimeAgo is a deadline that has passed: setting it makes every
// blocked read and write return at once.
var aLongTimeAgo = time.Unix(1, 0)

// abort unblocks the connection's reads and writes for good.
func (pc *poolConn) abort() {
	// The error would be about a connection being given up anyway.
	_ = pc.conn.SetDeadline(aLongTimeAgo)
}

// setReadDeadline sets the read deadline unless ctx is done: abort may
// have run just before and must not be undone.
func (pc *poolConn) setReadDeadline(ctx context.Context, t time.Time) error {
	if err := pc.conn.SetReadDeadline(t); err != nil {
		return err
	}
	return ctx.Err()
}

func (pc *poolConn) close() {
	// Nothing waits on this connection any more; a close error changes
	// nothing for anyone.
	_ = pc.conn.Close()
}
