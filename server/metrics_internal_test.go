package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The status counted is the one the client got: a panic's 500, not an
// informational 1xx, and 200 for a handler that only writes a body.
func TestMetrics_InstrumentStatus(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    int
	}{
		{"panic", func(http.ResponseWriter, *http.Request) { panic("bug") }, 500},
		{"early hints, then 201", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}, 201},
		{"body only", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }, 200},
		{"second WriteHeader ignored", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			w.WriteHeader(http.StatusOK) // net/http logs and ignores it
		}, 418},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{log: slog.New(slog.DiscardHandler), metrics: newMetrics()}
			h := s.metrics.instrument(s.recoverPanics(s.metrics.routed("GET /x", tc.handler)))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
			rm := s.metrics.route("GET /x")
			if n := rm.codes[tc.want-100].Load(); n != 1 || rm.latency.count() != 1 {
				t.Errorf("code %d counted %d times, %d observations", tc.want, n, rm.latency.count())
			}
		})
	}
}

// A duration on a bucket's bound falls in that bucket (le is "at most").
func TestHistogram_Buckets(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int // bucket index; numBuckets is +Inf
	}{
		{-time.Second, 0},
		{0, 0},
		{500 * time.Microsecond, 0},
		{500*time.Microsecond + 1, 1},
		{time.Second, 10},
		{10 * time.Second, numBuckets - 1},
		{time.Hour, numBuckets},
	}
	for _, tc := range tests {
		var h histogram
		h.observe(tc.d)
		if h.counts[tc.want].Load() != 1 {
			t.Errorf("%v: not in bucket %d", tc.d, tc.want)
		}
	}
}

// The hot path of a counted request allocates nothing: the writer comes
// from a pool.
func TestMetrics_InstrumentAllocs(t *testing.T) {
	m := newMetrics()
	h := m.instrument(m.routed("GET /x", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	w, r := httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil)
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

// Every finished request moves the counter Server.Pace watches, whatever
// its route or status: a flush pauses for requests it cannot see otherwise.
func TestMetrics_ServedCountsEveryRequest(t *testing.T) {
	m := newMetrics()
	h := m.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
		}
	}))
	for _, path := range []string{"/", "/missing", "/v1/chat"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	if got := m.served.Load(); got != 3 {
		t.Errorf("served = %d after 3 requests, want 3", got)
	}
}
