package server

import (
	"unicode/utf8"
)

// The protected routes' hot path reads and writes JSON by hand: encoding/json
// costs a dozen allocations a request. The reader recognises only the
// commonest shape of a {"message"} body and says so when it does not; the
// caller then hands the whole body to s.decode, so what is accepted or
// refused, and with which detail, is encoding/json's (FuzzParseMessage
// checks this). The writer escapes exactly as json.Marshal does
// (FuzzAppendJSONString).

// parseMessage reads body as {"message": string} and returns the message,
// unescaped in place in body. ok is false for anything else it does not
// recognise, even if encoding/json would accept it: another key or any key
// spelt with an escape or other case, a value not a string or null, a
// string with invalid UTF-8, a control character or an escaped surrogate,
// trailing data, or a syntax error. Like encoding/json, an empty body
// (optional) or a null value leaves the message empty, and of repeated
// keys the last non-null one wins.
func parseMessage(body []byte) (msg []byte, ok bool) {
	i := skipSpace(body, 0)
	if i == len(body) {
		return nil, true
	}
	if body[i] != '{' {
		return nil, false
	}
	i = skipSpace(body, i+1)
	var valStart, valEnd int // the last non-null value, quotes excluded
	found := false
	if i < len(body) && body[i] != '}' {
		for {
			const key = `"message"`
			if len(body)-i < len(key) || string(body[i:i+len(key)]) != key {
				return nil, false
			}
			i = skipSpace(body, i+len(key))
			if i == len(body) || body[i] != ':' {
				return nil, false
			}
			i = skipSpace(body, i+1)
			switch {
			case i < len(body) && body[i] == '"':
				end, ok := scanString(body, i+1)
				if !ok {
					return nil, false
				}
				valStart, valEnd, found = i+1, end, true
				i = end + 1
			case len(body)-i >= 4 && string(body[i:i+4]) == "null":
				i += 4
			default:
				return nil, false
			}
			i = skipSpace(body, i)
			if i == len(body) || body[i] != ',' {
				break
			}
			i = skipSpace(body, i+1)
		}
	}
	if i == len(body) || body[i] != '}' || skipSpace(body, i+1) != len(body) {
		return nil, false
	}
	if !found {
		return nil, true
	}
	return unescapeInPlace(body[valStart:valEnd]), true
}

// skipSpace returns the index of the first byte from i that is not JSON
// white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// scanString finds the closing quote of the string whose contents start at
// i, checking that unescaping it changes nothing encoding/json would
// change otherwise: no control characters, valid UTF-8, and escapes that
// are well-formed and not surrogates.
func scanString(b []byte, i int) (end int, ok bool) {
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i, true
		case c < ' ':
			return 0, false
		case c == '\\':
			n := escapeLen(b[i:])
			if n == 0 {
				return 0, false
			}
			i += n
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, false
			}
			i += size
		}
	}
	return 0, false
}

// escapeLen is the length of the escape at the start of b, or 0 for one
// parseMessage leaves to encoding/json.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		r, ok := hex4(b[2:])
		if !ok || 0xd800 <= r && r < 0xe000 {
			return 0
		}
		return 6
	}
	return 0
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescapeInPlace decodes the escapes of s, which scanString accepted. The
// result is never longer than s, so it overwrites s.
func unescapeInPlace(s []byte) []byte {
	w := 0
	for r := 0; r < len(s); {
		if s[r] != '\\' {
			s[w] = s[r]
			w, r = w+1, r+1
			continue
		}
		switch c := s[r+1]; c {
		case 'b':
			s[w] = '\b'
		case 'f':
			s[w] = '\f'
		case 'n':
			s[w] = '\n'
		case 'r':
			s[w] = '\r'
		case 't':
			s[w] = '\t'
		case 'u':
			u, _ := hex4(s[r+2:])
			w += utf8.EncodeRune(s[w:], u)
			r += 6
			continue
		default: // '"', '\\', '/'
			s[w] = c
		}
		w, r = w+1, r+2
	}
	return s[:w]
}

// jsonSafe[c] says whether the ASCII byte c is written into a JSON string
// as it is: one load per byte instead of six comparisons.
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		safe[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return safe
}()

// appendJSONString appends s as a JSON string, escaped as json.Marshal
// escapes it: HTML's <, > and &, U+2028 and U+2029, and control
// characters, with each byte of invalid UTF-8 as U+FFFD.
func appendJSONString[S []byte | string](dst []byte, s S) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune([]byte(s[i:min(i+utf8.UTFMax, len(s))]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
