//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package server

import "syscall"

// leanSupported: alive cannot look at a socket here, so routes use
// http.Transport, which notices a closed idle connection itself.
const leanSupported = false

// errConnReset is how a connection the upstream reset reads.
var errConnReset error = syscall.ECONNRESET

// alive is never called here: without leanSupported nothing is pooled.
func (pc *poolConn) alive() bool { return true }

func (pc *poolConn) peek(uintptr) bool { return true }

func (pc *poolConn) writeWait(uintptr) bool { return true }

func (pc *poolConn) sendAwaiting() error {
	_, err := pc.conn.Write(pc.wbuf)
	return err
}
