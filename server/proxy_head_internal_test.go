package server

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

func TestParseHead(t *testing.T) {
	const ok200 = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	tests := []struct {
		name, raw          string
		complete, accepted bool
		code               int
		length             int64
		close              bool
	}{
		{"typical", ok200, true, true, 200, 2, false},
		{"no reason", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", true, true, 404, 0, false},
		{"close", "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 1\r\n\r\nx", true, true, 200, 1, true},
		{"trimmed length", "HTTP/1.1 200 OK\r\nContent-Length: \t 12 \r\n\r\n", true, true, 200, 12, false},
		{"incomplete", "HTTP/1.1 200 OK\r\nContent-Len", false, true, 0, 0, false},
		{"empty", "", false, true, 0, 0, false},
		{"no length", "HTTP/1.1 200 OK\r\n\r\n", true, false, 0, 0, false},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", true, false, 0, 0, false},
		{"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n", true, false, 0, 0, false},
		{"huge length", "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n", true, false, 0, 0, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n", true, false, 0, 0, false},
		{"trailer", "HTTP/1.1 200 OK\r\nTrailer: X\r\nContent-Length: 2\r\n\r\n", true, false, 0, 0, false},
		{"event stream", "HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream\r\nContent-Length: 2\r\n\r\n", true, false, 0, 0, false},
		{"pragma", "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 2\r\n\r\n", true, false, 0, 0, false},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", true, false, 0, 0, false},
		{"1xx", "HTTP/1.1 103 Early Hints\r\nContent-Length: 2\r\n\r\n", true, false, 0, 0, false},
		{"204", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"600", "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"bad status", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"long status", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"bare LF ends the head early", "HTTP/1.1 200 OK\r\nContent-Length: 5\n\nX-A: b\r\n\r\n", true, false, 0, 0, false},
		{"stray CR", "HTTP/1.1 200 OK\r\nX-A: b\rc\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"folded line", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"space before colon", "HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"no colon", "HTTP/1.1 200 OK\r\nX-A b\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"empty name", "HTTP/1.1 200 OK\r\n: b\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"control in value", "HTTP/1.1 200 OK\r\nX-A: b\x01\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
		{"four Connection fields", "HTTP/1.1 200 OK\r\nConnection: a\r\nConnection: b\r\nConnection: c\r\nConnection: d\r\nContent-Length: 0\r\n\r\n", true, true, 200, 0, false},
		// copyHead reads the names in four: a fifth could name a field it
		// would then forward.
		{"five Connection fields", "HTTP/1.1 200 OK\r\nConnection: a\r\nConnection: b\r\nConnection: c\r\nConnection: d\r\nConnection: x-e\r\nX-E: 1\r\nContent-Length: 0\r\n\r\n", true, false, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, complete, ok := parseHead([]byte(tc.raw))
			if complete != tc.complete || ok != tc.accepted {
				t.Fatalf("complete, ok = %v, %v; want %v, %v", complete, ok, tc.complete, tc.accepted)
			}
			if complete && ok && (h.code != tc.code || h.length != tc.length || h.close != tc.close) {
				t.Errorf("= %+v, want code %d length %d close %v", h, tc.code, tc.length, tc.close)
			}
		})
	}
}

func TestCopyHead(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\n" +
		"content-type: application/json\r\n" +
		"X-Ratelimit-Remaining: 9\r\nRateLimit: r=9\r\nX_RateLimit_Reset: 1\r\n" +
		"Connection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n" +
		"X-Multi: a\r\nX-Multi:  b \r\nX-Request-Id: up\r\nContent-Length: 0\r\n\r\n"
	h, complete, ok := parseHead([]byte(raw))
	if !complete || !ok {
		t.Fatal("head refused")
	}
	dst := http.Header{"X-Request-Id": {"kg"}, "X-Ratelimit-Remaining": {"4"}}
	copyHead(dst, raw[:h.size], &h)
	want := http.Header{
		"Content-Type":          {"application/json"},
		"X-Multi":               {"a", "b"},
		"X-Request-Id":          {"kg", "up"},
		"X-Ratelimit-Remaining": {"4"},
		"Content-Length":        {"0"},
	}
	if !reflect.DeepEqual(dst, want) {
		t.Errorf("header = %v\nwant %v", dst, want)
	}
	// Appending to one field does not write into its neighbour's value.
	dst["X-Multi"] = append(dst["X-Multi"], "c")
	if got := dst["Content-Type"]; len(got) != 1 || got[0] != "application/json" {
		t.Errorf("Content-Type = %q after an append to X-Multi", got)
	}
}

// FuzzParseHead: whatever head the direct path accepts, ReadResponse
// reads the same way, and copyHead gives the client the header fields
// ReverseProxy would.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 201 Created\r\ncontent-length: 5\r\nconnection: close, x-a\r\nx-a: 1\r\n\r\nhello",
		"HTTP/1.1 503 Busy\r\nRetry-After: 3\r\nX-RateLimit-Limit: 5\r\nContent-Length: 0\r\nConnection: x-b\r\nX-B: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: \xff\xfe\t \r\nContent-Length: 007\r\n\r\n1234567",
		"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: a\r\nConnection: b\r\nConnection: c\r\nConnection: d\r\nConnection: x-e\r\nX-E: 1\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: x-a\r\nX-A: 1\r\nConnection: x-b, x-c\r\nX-B: 2\r\nX-C: 3\r\nX-D: 4\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, complete, ok := parseHead(raw)
		if !complete || !ok {
			return
		}
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("accepted a head ReadResponse refuses: %v", err)
		}
		if res.StatusCode != h.code || res.ContentLength != h.length || res.Close != h.close ||
			res.TransferEncoding != nil || res.Trailer != nil {
			t.Fatalf("parsed %+v; ReadResponse: %d length %d close %v %v %v",
				h, res.StatusCode, res.ContentLength, res.Close, res.TransferEncoding, res.Trailer)
		}
		if ct, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); ct == "text/event-stream" {
			t.Fatal("accepted an event stream")
		}
		want := http.Header{}
		removeHopByHop(res.Header)
		_ = dropUpstreamLimitHeaders(res)
		copyHeader(want, res.Header)
		got := http.Header{}
		copyHead(got, string(raw[:h.size]), &h)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("header = %q\nReverseProxy's = %q", got, want)
		}
		if int64(len(raw)) >= int64(h.size)+h.length {
			body, err := io.ReadAll(res.Body)
			if err != nil || !bytes.Equal(body, raw[h.size:int64(h.size)+h.length]) {
				t.Fatalf("body = %q, %v; the direct path would send %q", body, err, raw[h.size:int64(h.size)+h.length])
			}
		}
	})
}

// removeHopByHop is httputil's removeHopByHopHeaders.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, f := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		h.Del(f)
	}
}
