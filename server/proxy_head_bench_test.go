package server

import (
	"net/http"
	"testing"
)

// BenchmarkCopyHead is the direct path's reading of a typical upstream
// response head (bench/baseline's) into the client's header map, which
// already holds keygate's own fields.
func BenchmarkCopyHead(b *testing.B) {
	const raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n" +
		"Date: Fri, 27 Nov 2026 05:50:40 GMT\r\nContent-Length: 57\r\n\r\n"
	h, complete, ok := parseHead([]byte(raw))
	if !complete || !ok {
		b.Fatal("head refused")
	}
	dst := make(http.Header, 8)
	b.ReportAllocs()
	for b.Loop() {
		clear(dst)
		dst["X-Request-Id"] = nil
		copyHead(dst, raw, &h)
	}
}
