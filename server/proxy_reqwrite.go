package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxKeptWriteBuffer bounds the write buffer a pooled connection keeps.
const maxKeptWriteBuffer = 16 << 10

// errNotDirect: the request holds something the direct path does not
// write (a header value ReverseProxy would rewrite or a client would
// choke on); ReverseProxy takes it, with nothing sent.
var errNotDirect = errors.New("request not for the direct path")

// directEligible reports whether the direct path writes r exactly as
// ReverseProxy (with rewrite) and Request.Write would: a body of known
// length, no protocol upgrade or 100-continue, and a URL that needs no
// re-escaping. Header values are checked while writing.
func (d *directProxy) directEligible(r *http.Request) bool {
	u := r.URL
	h := r.Header
	return r.ContentLength >= 0 && isToken(r.Method) && r.Method != http.MethodConnect && r.Form == nil &&
		h["Upgrade"] == nil && h["Expect"] == nil &&
		u.RawPath == "" && u.Opaque == "" && strings.HasPrefix(u.Path, "/") &&
		plainPath(u.Path) && plainQuery(u.RawQuery)
}

// plainPath reports whether url's EscapedPath leaves p as it is, so that
// it can be written without building a URL.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		switch c {
		case '-', '_', '.', '~', '$', '&', '+', ',', '/', ':', ';', '=', '@':
			continue
		}
		return false
	}
	return true
}

// plainQuery reports whether ReverseProxy forwards q unchanged (no ';'
// and no broken escape, else it re-encodes it) and it has no byte a
// request line cannot carry.
func plainQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == ';', c <= ' ', c >= 0x7f:
			return false
		case c == '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// headWriter builds a request head in a pooled connection's write
// buffer.
type headWriter struct {
	buf []byte
	bad bool // a value the direct path must not write
}

func (hw *headWriter) str(s string) { hw.buf = append(hw.buf, s...) }

// int writes n >= 0 in decimal.
func (hw *headWriter) int(n int64) { hw.buf = strconv.AppendInt(hw.buf, n, 10) }

// field writes "name: value\r\n", refusing a name that is not a token
// and a value that Request.Write would trim or rewrite, or that holds a
// control character. (net/http's server never hands over either; the
// check is what keeps a handler's mistake from splitting the request.)
func (hw *headWriter) field(name, value string) {
	if !isToken(name) || !plainValue(value) {
		hw.bad = true
		return
	}
	hw.str(name)
	hw.str(": ")
	hw.str(value)
	hw.str("\r\n")
}

// isToken reports whether s is a non-empty RFC 9110 token, as method and
// header names are.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// plainValue: no control character other than tab inside, and no
// leading or trailing white space.
func plainValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return v == "" || v[0] != ' ' && v[0] != '\t' && v[len(v)-1] != ' ' && v[len(v)-1] != '\t'
}

// writeHead builds the outbound request head for r in pc.wbuf: what
// rewrite and ReverseProxy would send, header order aside. It returns
// errNotDirect when r is not for the direct path after all; nothing has
// been sent then.
func (d *directProxy) writeHead(pc *poolConn, r *http.Request, e *keyEntry, t *tier) error {
	if cap(pc.wbuf) > maxKeptWriteBuffer {
		pc.wbuf = nil // an odd large request does not stay in the pool
	}
	hw := headWriter{buf: pc.wbuf[:0]}
	defer func() { pc.wbuf = hw.buf }()
	hw.str(r.Method)
	hw.str(" ")
	p := r.URL.Path
	if strings.HasSuffix(d.basePath, "/") {
		p = p[1:]
	}
	hw.str(d.basePath)
	hw.str(p)
	if r.URL.ForceQuery || r.URL.RawQuery != "" {
		hw.str("?")
		hw.str(r.URL.RawQuery)
	}
	hw.str(" HTTP/1.1\r\nHost: ")
	hw.str(d.host)
	hw.str("\r\n")

	h := r.Header
	conn := h["Connection"]
	for name, vals := range h {
		if skipRequestHeader(name) || isClientIdentityHeader(name) || listedIn(conn, name) {
			continue
		}
		if name == "User-Agent" {
			// Request.Write sends the first one only, and none if empty.
			if vals[0] != "" {
				hw.field(name, vals[0])
			}
			continue
		}
		for _, v := range vals {
			hw.field(name, v)
		}
	}
	if headerHasToken(h["Te"], "trailers") {
		hw.str("Te: trailers\r\n")
	}
	d.writeForwarded(&hw, r)
	hw.field(headerKeyID, e.id)
	hw.field(headerUserID, e.userID)
	hw.field(headerTier, t.name)
	if n := r.ContentLength; n > 0 || r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		hw.str("Content-Length: ")
		hw.int(n)
		hw.str("\r\n")
	}
	hw.str("\r\n")
	if hw.bad {
		return errNotDirect
	}
	return nil
}

// writeForwarded writes X-Forwarded-For, -Host and -Proto as setForwarded
// has ReverseProxy set them.
func (d *directProxy) writeForwarded(hw *headWriter, r *http.Request) {
	in := r.Header
	peer := peerAddr(r.RemoteAddr)
	trusted := peer.IsValid() && d.s.trusted(peer)
	if clientIP, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if !plainValue(clientIP) {
			hw.bad = true
		}
		hw.str("X-Forwarded-For: ")
		if trusted {
			for _, v := range in["X-Forwarded-For"] {
				if !plainValue(v) {
					hw.bad = true
				}
				hw.str(v)
				hw.str(", ")
			}
		}
		hw.str(clientIP)
		hw.str("\r\n")
	}
	host := r.Host
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	if trusted {
		if v := firstValue(in, "X-Forwarded-Host"); v != "" {
			host = v
		}
		if v := firstValue(in, "X-Forwarded-Proto"); v != "" {
			proto = v
		}
	}
	hw.field("X-Forwarded-Host", host)
	hw.field("X-Forwarded-Proto", proto)
}

// skipRequestHeader reports whether a client's header is never forwarded
// as it is: hop-by-hop headers (RFC 9110 7.6.1 and ReverseProxy's list),
// the forwarding headers keygate sets itself, and what Request.Write
// takes from elsewhere.
func skipRequestHeader(name string) bool {
	switch name {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"Host", "Content-Length":
		return true
	}
	return false
}

// listedIn reports whether the Connection header values conn name the
// header name (which is in canonical form, as ReverseProxy's Del needs).
func listedIn(conn []string, name string) bool {
	for _, v := range conn {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if asciiEqualFold(strings.Trim(tok, " \t"), name) {
				return true
			}
		}
	}
	return false
}

// headerHasToken reports whether the comma-separated values hold token,
// ignoring case.
func headerHasToken(vals []string, token string) bool {
	for _, v := range vals {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if asciiEqualFold(strings.Trim(tok, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// writeBody appends the client's body, n bytes, to the request. A failure
// of the client's body is clientErr, one of the upstream's upErr.
func writeBody(bw *bufio.Writer, body io.Reader, n int64) (clientErr, upErr error) {
	for n > 0 {
		if bw.Available() == 0 {
			if err := bw.Flush(); err != nil {
				return nil, err
			}
		}
		buf := bw.AvailableBuffer()
		buf = buf[:min(int64(cap(buf)), n)]
		k, err := body.Read(buf)
		bw.Write(buf[:k]) // the buffer's own free space: no copy
		n -= int64(k)
		if err != nil {
			if err == io.EOF {
				if n == 0 {
					break
				}
				err = io.ErrUnexpectedEOF
			}
			return err, nil
		}
	}
	return nil, nil
}

// appendBody appends the client's body, n bytes, to buf. An error is the
// client's.
func appendBody(buf []byte, body io.Reader, n int64) ([]byte, error) {
	start := len(buf)
	buf = slices.Grow(buf, int(n))[:start+int(n)]
	if _, err := io.ReadFull(body, buf[start:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf[:start], err
	}
	return buf, nil
}

// directTarget is what writeHead needs of a route's upstream; ok is false
// when the direct path cannot write its Host or path as Request.Write
// would.
func directTarget(target *url.URL) (host, basePath string, ok bool) {
	host = target.Host
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c >= 0x7f || c == '%' {
			return "", "", false
		}
	}
	return host, target.Path, target.RawPath == "" && plainPath(target.Path)
}
