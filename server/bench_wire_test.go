package server_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// The *Wire benchmarks serve a request as net/http's server does around a
// handler: a new header map per request, a copy of it when the status is
// written, and the header block sorted and written out. BenchmarkChatHandler
// and BenchmarkLimited reuse one header map, which hides what a response's
// header count costs: a map of more than eight entries grows to a table.

// BenchmarkChatWire is BenchmarkChatHandler with a fresh header map per request.
func BenchmarkChatWire(b *testing.B) {
	ts, key := openKey(b)
	benchWire(b, ts, key, http.StatusOK)
}

// BenchmarkLimitedWire is BenchmarkLimited with a fresh header map per request.
func BenchmarkLimitedWire(b *testing.B) {
	ts, key := spentKey(b)
	benchWire(b, ts, key, http.StatusTooManyRequests)
}

func benchWire(b *testing.B, ts *testServer, key string, wantStatus int) {
	benchServe(b, ts, []string{key}, wantStatus, &wireWriter{out: bufio.NewWriterSize(io.Discard, 4096)})
}

// wireWriter is a ResponseWriter doing with headers what net/http's does.
type wireWriter struct {
	h, sent http.Header
	code    int
	out     *bufio.Writer
}

func (w *wireWriter) Header() http.Header {
	if w.h == nil {
		w.h = make(http.Header)
	}
	return w.h
}

func (w *wireWriter) WriteHeader(code int) {
	if w.code != 0 {
		return
	}
	w.code = code
	w.sent = w.Header().Clone()
}

func (w *wireWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.sent != nil {
		_ = w.sent.Write(w.out)
		w.sent = nil
	}
	return w.out.Write(p)
}

func (w *wireWriter) status() int { return w.code }

func (w *wireWriter) reset() {
	w.h, w.sent, w.code = nil, nil, 0
	w.out.Reset(io.Discard)
}

// The *HTTP benchmarks send requests over one keep-alive loopback
// connection to a real net/http server, with a client that allocates
// nothing: the allocations reported are the server's own, net/http's
// included.

// BenchmarkChatHTTP is POST /v1/chat answered 200 through net/http.
func BenchmarkChatHTTP(b *testing.B) {
	ts, key := openKey(b)
	benchHTTP(b, ts, key, "200")
}

// BenchmarkLimitedHTTP is POST /v1/chat answered 429 through net/http.
func BenchmarkLimitedHTTP(b *testing.B) {
	ts, key := spentKey(b)
	benchHTTP(b, ts, key, "429")
}

func benchHTTP(b *testing.B, ts *testServer, key, wantStatus string) {
	hs := httptest.NewServer(ts.Server)
	defer hs.Close()
	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	const body = `{"message":"hello"}`
	req := []byte("POST /v1/chat HTTP/1.1\r\nHost: keygate\r\nAuthorization: Bearer " + key +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	br := bufio.NewReaderSize(conn, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := skipResponse(br, wantStatus); err != nil {
			b.Fatal(err)
		}
	}
}

// skipResponse reads one response with a Content-Length body, checking
// its status, without allocating.
func skipResponse(br *bufio.Reader, wantStatus string) error {
	length := -1
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if first && !bytes.HasPrefix(line, []byte("HTTP/1.1 "+wantStatus)) {
			return fmt.Errorf("status line %q, want %s", line, wantStatus)
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length = 0
			for _, c := range bytes.TrimSpace(v) {
				length = length*10 + int(c-'0')
			}
		}
		if len(line) == 2 {
			break
		}
	}
	if length < 0 {
		return errors.New("no Content-Length")
	}
	_, err := br.Discard(length)
	return err
}
