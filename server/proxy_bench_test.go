package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
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
}

// postLoop posts a small JSON body to url until the benchmark is done and
// returns the time per request.
func postLoop(b *testing.B, url, key string) time.Duration {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	body := `{"message":"hello"}`
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		req, err := http.NewRequest("POST", url, strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body) // drained so the connection is reused
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
		n++
	}
	return b.Elapsed() / time.Duration(n)
}
