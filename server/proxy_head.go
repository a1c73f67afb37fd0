package server

import (
	"bytes"
	"net/http"
	"net/textproto"
)

// respHead is a response head the direct path copies to the client
// itself: HTTP/1.1, a final status that has a body, the body's length
// declared once, nothing about chunking, trailers or streaming. Anything
// else, malformed or merely unusual, is left to http.ReadResponse and
// ReverseProxy, which then see the same bytes.
type respHead struct {
	code    int
	length  int64 // body bytes that follow the head
	close   bool  // the upstream ends the connection after the body
	size    int   // bytes of the head, the blank line included
	headers int   // header lines
	conns   int   // Connection lines among them
}

// maxDirectDigits keeps a declared length well inside int64
// without overflow checks: 18 digits.
const maxDirectDigits = 18

// maxConnFields is how many Connection lines copyHead reads the names of;
// a head with more is left to ReadResponse, so that none is forwarded
// unread.
const maxConnFields = 4

// parseHead parses the response head at the start of buf, for a request
// whose method is not HEAD. complete is false when buf does not hold the
// whole head yet; ok is false when the head is not one the direct path
// handles (see respHead). Only whole lines ending in CRLF are read, so a
// bare LF or CR, which ReadResponse might read differently, rules a head
// out rather than being guessed at.
func parseHead(buf []byte) (h respHead, complete, ok bool) {
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return h, false, true
	}
	h.size = end + 4
	rest := buf[:end+2]
	line, rest, ok := cutLine(rest)
	if !ok || !parseStatusLine(line, &h) {
		return h, true, false
	}
	hasLength := false
	for len(rest) > 0 {
		if line, rest, ok = cutLine(rest); !ok {
			return h, true, false
		}
		name, value, ok := splitField(line)
		if !ok {
			return h, true, false
		}
		h.headers++
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if hasLength || !parseLength(value, &h.length) {
				return h, true, false
			}
			hasLength = true
		case asciiEqualFold(name, "Connection"):
			if h.conns++; h.conns > maxConnFields {
				return h, true, false
			}
			h.close = h.close || bytesHaveToken(value, "close")
		case asciiEqualFold(name, "Content-Type"):
			// ReverseProxy flushes an event stream as it comes.
			if containsFold(value, "event-stream") {
				return h, true, false
			}
		case asciiEqualFold(name, "Transfer-Encoding"), asciiEqualFold(name, "Trailer"),
			asciiEqualFold(name, "Upgrade"), asciiEqualFold(name, "Pragma"):
			// Framing and trailers are ReadResponse's; it rewrites
			// Pragma: no-cache into Cache-Control.
			return h, true, false
		}
	}
	return h, true, hasLength
}

// parseStatusLine reads "HTTP/1.1 ddd[ reason]" with a status from 200
// to 599 other than 204 and 304 (which have no body).
func parseStatusLine(line []byte, h *respHead) bool {
	const proto = "HTTP/1.1 "
	if len(line) < len(proto)+3 || string(line[:len(proto)]) != proto {
		return false
	}
	d := line[len(proto) : len(proto)+3]
	if d[0] < '2' || d[0] > '5' || d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9' {
		return false
	}
	if len(line) > len(proto)+3 && line[len(proto)+3] != ' ' {
		return false
	}
	h.code = int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	return h.code != http.StatusNoContent && h.code != http.StatusNotModified
}

// cutLine splits off the first line of b, which ends in CRLF; ok is false
// for a line with any other CR or LF, or one that continues an earlier
// one (obsolete folding).
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	line = b[:i-1]
	if bytes.IndexByte(line, '\r') >= 0 || len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		return nil, nil, false
	}
	return line, b[i+1:], true
}

// splitField splits "name: value" as textproto reads it: a name of token
// characters, a value of visible characters, spaces and tabs (and
// obs-text), trimmed of spaces and tabs.
func splitField(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i < 1 {
		return nil, nil, false
	}
	name = line[:i]
	for _, c := range name {
		if !isTokenChar(c) {
			return nil, nil, false
		}
	}
	value = line[i+1:]
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, false
		}
	}
	return name, bytes.Trim(value, " \t"), true
}

// isTokenChar reports whether c may appear in a header name (RFC 9110
// token).
func isTokenChar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// parseLength reads a Content-Length of 1 to maxDirectDigits digits.
func parseLength(v []byte, n *int64) bool {
	if len(v) == 0 || len(v) > maxDirectDigits {
		return false
	}
	var x int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
		x = x*10 + int64(c-'0')
	}
	*n = x
	return true
}

// copyHead adds the header fields of a head parseHead accepted (raw, the
// head as a string) to dst, leaving out what ReverseProxy would: the
// hop-by-hop fields, those the Connection header names (unless it says
// close: ReadResponse drops that Connection header first), and the
// upstream's rate-limit fields. Names and values are slices of raw and
// their slices share one array, so a typical head costs two allocations.
// A head without a Connection field (the usual one) is read once.
func copyHead(dst http.Header, raw string, h *respHead) {
	vals := make([]string, 0, h.headers)
	var conn [maxConnFields]string
	nconn := 0
	if h.conns > 0 && !h.close {
		nconn = connectionValues(&conn, raw[:h.size-2])
	}
	lines := raw[:h.size-2]
	for first := true; lines != ""; first = false {
		i := indexByteString(lines, '\n')
		line := lines[:i-1]
		lines = lines[i+1:]
		if first {
			continue
		}
		c := indexByteString(line, ':')
		name := textproto.CanonicalMIMEHeaderKey(line[:c])
		if isHopHeader(name) || listedIn(conn[:nconn], name) ||
			foldedPrefix(name, "ratelimit") || foldedPrefix(name, "x-ratelimit") {
			continue
		}
		value := trimSpaceTab(line[c+1:])
		if old := dst[name]; old != nil {
			dst[name] = append(old, value)
			continue
		}
		vals = append(vals, value)
		n := len(vals)
		dst[name] = vals[n-1 : n : n]
	}
}

// connectionValues puts the values of the Connection fields in lines (a
// head without its blank line; parseHead has bounded their number) into
// conn, and returns how many there are.
func connectionValues(conn *[maxConnFields]string, lines string) int {
	n := 0
	_, lines, _ = cutString(lines, '\n') // the status line
	for lines != "" && n < len(conn) {
		var line string
		line, lines, _ = cutString(lines, '\n')
		c := indexByteString(line, ':')
		if asciiEqualFold(line[:c], "Connection") {
			conn[n] = line[c+1 : len(line)-1]
			n++
		}
	}
	return n
}

// cutString is strings.Cut for one byte.
func cutString(s string, sep byte) (before, after string, found bool) {
	if i := indexByteString(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// isHopHeader reports whether name is on ReverseProxy's list of
// hop-by-hop fields.
func isHopHeader(name string) bool {
	switch name {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

func indexByteString(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func trimSpaceTab(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// asciiEqualFold is strings.EqualFold for ASCII only, as HTTP compares
// names and tokens: no Unicode folding (ſ is not s).
func asciiEqualFold[T ~string | ~[]byte](a T, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// bytesHaveToken reports whether the comma-separated list v holds token.
func bytesHaveToken(v []byte, token string) bool {
	for len(v) > 0 {
		var tok []byte
		tok, v, _ = bytes.Cut(v, []byte(","))
		if asciiEqualFold(bytes.Trim(tok, " \t"), token) {
			return true
		}
	}
	return false
}

// containsFold reports whether v contains the lower-case ASCII sub,
// ignoring case.
func containsFold(v []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(v); i++ {
		if asciiEqualFold(v[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
