package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
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
