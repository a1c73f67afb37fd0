package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkProxy compares POST /v1/chat sent straight to a trivial
// upstream ("direct") with the same request through keygate's full chain
// on a real listener ("proxied"): key check, limits, then the proxy. Both
// use the same client settings and keep their connections alive. The
// proxied run also reports its time as a multiple of the direct one.
func BenchmarkProxy(b *testing.B) {
	upSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the benchmark's body is tiny and always read in full
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"reply":"hello"}`)
	}))
	b.Cleanup(upSrv.Close)
	ts := newTestServer(b, withUpstream(upSrv.URL, 0), highLimits)
	raw := proxyKey(ts, "bench@example.com")
	base := serve(b, ts)

	var direct time.Duration // per request
	b.Run("direct", func(b *testing.B) {
		direct = postLoop(b, upSrv.URL+"/base/v1/chat", "")
	})
	b.Run("proxied", func(b *testing.B) {
		perOp := postLoop(b, base+"/v1/chat", raw)
		if direct > 0 {
			b.ReportMetric(float64(perOp)/float64(direct), "x-direct")
		}
	})
	// The same with 64 clients at once, as bench/run.sh's proxy scenario
	// loads it: what the hop costs when requests overlap.
	var direct64 time.Duration
	b.Run("direct-64", func(b *testing.B) {
		direct64 = postParallel(b, upSrv.URL+"/base/v1/chat", "", 64)
	})
	b.Run("proxied-64", func(b *testing.B) {
		perOp := postParallel(b, base+"/v1/chat", raw, 64)
		if direct64 > 0 {
			b.ReportMetric(float64(perOp)/float64(direct64), "x-direct")
		}
	})
}

// postParallel is postLoop with clients goroutines posting at once (a
// multiple of GOMAXPROCS, rounded up); it returns the wall time per
// request.
func postParallel(b *testing.B, url, key string, clients int) time.Duration {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := post(client, url, key); err != nil {
				b.Error(err)
				return
			}
		}
	})
	return b.Elapsed() / time.Duration(max(b.N, 1))
}

// postLoop posts a small JSON body to url until the benchmark is done and
// returns the time per request.
func postLoop(b *testing.B, url, key string) time.Duration {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := post(client, url, key); err != nil {
			b.Fatal(err)
		}
		n++
	}
	return b.Elapsed() / time.Duration(n)
}

// post sends one small JSON body to url and reads the answer in full, so
// that the connection is reused; an answer other than 200 is an error.
func post(client *http.Client, url, key string) error {
	req, err := http.NewRequest("POST", url, strings.NewReader(`{"message":"hello"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, res.Body) // drained so the connection is reused
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}

// BenchmarkProxyHandler is keygate's side of a proxied request alone:
// the handler chain called in process (no client connection), in front of
// an upstream that answers from the socket with a fixed response, so
// that the allocations reported are keygate's (and the recorder's).
func BenchmarkProxyHandler(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go cannedUpstream(c)
		}
	}()
	ts := newTestServer(b, withUpstream("http://"+ln.Addr().String(), 0), highLimits)
	raw := proxyKey(ts, "bench@example.com")
	body := &rewindBody{Reader: strings.NewReader(`{"message":"hello"}`)}
	req := httptest.NewRequest("POST", "/v1/chat", body)
	req.ContentLength = body.Size()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+raw)
	r := new(http.Request)
	b.ReportAllocs()
	for b.Loop() {
		// A handler may replace the body: each request starts afresh.
		*r = *req
		body.Seek(0, io.SeekStart)
		rec := httptest.NewRecorder()
		ts.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// rewindBody is a request body the benchmark reuses.
type rewindBody struct{ *strings.Reader }

func (*rewindBody) Close() error { return nil }

// cannedUpstream answers each request on c, read up to the end of its
// head and a Content-Length body, with the same small JSON response.
func cannedUpstream(c net.Conn) {
	defer c.Close()
	const res = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"reply\":\"hello\"}"
	br := bufio.NewReader(c)
	for {
		n := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
		}
		if _, err := br.Discard(n); err != nil {
			return
		}
		if _, err := io.WriteString(c, res); err != nil {
			return
		}
	}
}
