//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package server

import "syscall"

// leanSupported: alive can look at a socket here.
const leanSupported = true

// errConnReset is how a connection the upstream reset reads.
var errConnReset error = syscall.ECONNRESET

// alive reports whether the upstream has neither closed the idle
// connection nor sent anything on it unasked: a peek that finds no data
// yet (EAGAIN on the non-blocking socket) is the only good answer. It
// costs one system call, far less than a failed request.
func (pc *poolConn) alive() bool {
	if pc.raw == nil {
		return true
	}
	pc.peekErr = nil
	if err := pc.raw.Read(pc.peekFn); err != nil {
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
