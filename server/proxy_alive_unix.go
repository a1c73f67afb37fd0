//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package server

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// leanSupported: alive can look at a socket here.
const leanSupported = true

// errConnReset is how a connection the upstream reset reads.
var errConnReset error = syscall.ECONNRESET

// alive reports whether the upstream has neither closed the idle
// connection nor sent anything on it unasked: a peek that finds no data
// yet (EAGAIN on the non-blocking socket) is the only good answer. It
// costs one system call, far less than a failed request.
//
// The direct path pools a connection with its last header deadline still
// set, to save clearing it; one that has passed since is cleared here,
// as the poller refuses even a peek until then.
func (pc *poolConn) alive() bool {
	if pc.raw == nil {
		return true
	}
	pc.peekErr = nil
	err := pc.raw.Read(pc.peekFn)
	if errors.Is(err, os.ErrDeadlineExceeded) && pc.conn.SetReadDeadline(time.Time{}) == nil {
		err = pc.raw.Read(pc.peekFn)
	}
	if err != nil {
		return false
	}
	return pc.peekErr == syscall.EAGAIN || pc.peekErr == syscall.EWOULDBLOCK
}

// peek is RawConn.Read's callback for alive; a method value made once per
// connection, so that the check allocates nothing.
func (pc *poolConn) peek(fd uintptr) bool {
	var b [1]byte
	_, _, pc.peekErr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
	if pc.peekErr == nil {
		pc.peekErr = errConnReset // data or end of stream: either way, not reusable
	}
	return true
}

// sendAwaiting writes the direct path's request (pc.wbuf) and waits for
// the connection to become readable, without the read that would first
// find nothing: on a busy core the upstream cannot have answered yet.
// The write happens inside the wait's own setup, after the poller has
// been told to watch for the answer, so an answer that comes at once is
// not missed. Whatever the wait meets (a deadline, a close) the read that
// follows meets too; a write that went short is finished the usual way.
func (pc *poolConn) sendAwaiting() error {
	if pc.raw == nil {
		_, err := pc.conn.Write(pc.wbuf)
		return err
	}
	pc.wrote, pc.wroteErr = -1, nil
	_ = pc.raw.Read(pc.writeWaitFn)
	done := max(pc.wrote, 0)
	if done == len(pc.wbuf) {
		return nil
	}
	if err := pc.wroteErr; err != nil && err != syscall.EAGAIN && err != syscall.EINTR {
		return err
	}
	_, err := pc.conn.Write(pc.wbuf[done:])
	return err
}

// writeWait is RawConn.Read's callback for sendAwaiting: called first, it
// writes pc.wbuf and reports false (not done) when all of it went, so
// that RawConn.Read waits until the connection is readable; called again,
// it is done. Anything short of a whole write ends the wait at once.
func (pc *poolConn) writeWait(fd uintptr) bool {
	if pc.wrote >= 0 {
		return true
	}
	n, err := syscall.Write(int(fd), pc.wbuf)
	pc.wrote, pc.wroteErr = max(n, 0), err
	return err != nil || n < len(pc.wbuf)
}
