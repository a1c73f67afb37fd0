package server

import (
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/keygate/keygate/internal/offheap"
)

// MetricsHandler returns the handler that writes the Server's metrics in
// the Prometheus text format (version 0.0.4), whatever the request's
// method and path. Config.Metrics serves it at GET /metrics; a program
// that wants the metrics on another listener, away from the API, mounts
// it there itself. It is safe for concurrent use, and a scrape takes no
// lock a request needs.
//
// Counters count from the start of the process. The gauges (keys,
// limiters and sessions held in memory, off-heap memory, database size)
// are read at each scrape.
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var t textWriter
		s.writeMetrics(&t)
		h := w.Header()
		h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		// A failed write means the scraper has gone; there is no one to tell.
		_, _ = w.Write(t.buf)
	})
}

func (s *Server) writeMetrics(t *textWriter) {
	m := s.metrics
	routes := m.sortedRoutes()
	writeRequests(t, routes)

	t.help("keygate_key_checks_total", "counter", "API keys checked, by outcome (the verification code).")
	for i, code := range keyCheckCodes() {
		t.sample("keygate_key_checks_total", "outcome", strings.ToLower(code))
		t.uint(m.keyChecks[i].Load())
	}
	t.help("keygate_limit_refusals_total", "counter", "Requests refused by a key's limits, by limit.")
	for i, limit := range [...]string{"minute", "day"} {
		t.sample("keygate_limit_refusals_total", "limit", limit)
		t.uint(m.limitRefusals[i].Load())
	}

	t.help("keygate_flush_batches_total", "counter", "Batches of counts and last-used times committed to the database.")
	t.sample("keygate_flush_batches_total")
	t.uint(m.flushBatches.Load())
	t.help("keygate_flush_failures_total", "counter", "Batches that failed to commit; each is retried with the next.")
	t.sample("keygate_flush_failures_total")
	t.uint(m.flushFailures.Load())
	t.help("keygate_flush_duration_seconds", "histogram", "Time to write one batch, failed or not.")
	t.histogram("keygate_flush_duration_seconds", &m.flushDuration)

	s.writeGauges(t)
}

func writeRequests(t *textWriter, routes []*routeMetrics) {
	t.help("keygate_http_requests_total", "counter",
		`Requests served, by route (the ServeMux pattern, or "other" for no route) and status code.`)
	for _, rm := range routes {
		for i := range rm.codes {
			if n := rm.codes[i].Load(); n > 0 {
				t.sample("keygate_http_requests_total", "route", rm.pattern, "code", strconv.Itoa(i+100))
				t.uint(n)
			}
		}
		if n := rm.odd.Load(); n > 0 {
			t.sample("keygate_http_requests_total", "route", rm.pattern, "code", "other")
			t.uint(n)
		}
	}
	t.help("keygate_http_request_duration_seconds", "histogram",
		"Time to serve a request, from its headers read to its handler returning, by route.")
	for _, rm := range routes {
		if rm.latency.count() > 0 {
			t.histogram("keygate_http_request_duration_seconds", &rm.latency, "route", rm.pattern)
		}
	}
}

func (s *Server) writeGauges(t *textWriter) {
	t.help("keygate_keys_in_memory", "gauge", "API keys held in the in-memory key cache.")
	t.sample("keygate_keys_in_memory")
	t.int(int64(s.keys.len()))
	t.help("keygate_limiters_in_memory", "gauge", "Key lineages whose limits are held in memory.")
	t.sample("keygate_limiters_in_memory")
	t.int(int64(s.limits.Len()))
	t.help("keygate_sessions_in_memory", "gauge", "Browser and API sessions held in memory.")
	t.sample("keygate_sessions_in_memory")
	t.int(s.sessions.len())
	t.help("keygate_offheap_mapped_bytes", "gauge",
		"Memory mapped outside the Go heap for in-memory tables; GOMEMLIMIT and the Go runtime's figures leave it out.")
	t.sample("keygate_offheap_mapped_bytes")
	t.int(offheap.Mapped())
	t.help("keygate_database_size_bytes", "gauge", "Size of the database file.")
	if info, err := os.Stat(s.db.Path()); err == nil {
		t.sample("keygate_database_size_bytes")
		t.int(info.Size())
	}
}

// count is the number of observations.
func (h *histogram) count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// textWriter builds the Prometheus text exposition format. Each sample is
// a call to sample, then one to uint, int or float.
type textWriter struct{ buf []byte }

func (t *textWriter) help(name, kind, help string) {
	t.buf = append(t.buf, "# HELP "...)
	t.buf = append(t.buf, name...)
	t.buf = append(t.buf, ' ')
	t.buf = append(t.buf, help...) // constant text, with no backslash or newline to escape
	t.buf = append(t.buf, "\n# TYPE "...)
	t.buf = append(t.buf, name...)
	t.buf = append(t.buf, ' ')
	t.buf = append(t.buf, kind...)
	t.buf = append(t.buf, '\n')
}

// sample starts a sample line: the name, and labels as name, value pairs.
func (t *textWriter) sample(name string, labels ...string) {
	t.buf = append(t.buf, name...)
	for i := 0; i+1 < len(labels); i += 2 {
		if i == 0 {
			t.buf = append(t.buf, '{')
		} else {
			t.buf = append(t.buf, ',')
		}
		t.buf = append(t.buf, labels[i]...)
		t.buf = append(t.buf, `="`...)
		t.buf = appendLabelValue(t.buf, labels[i+1])
		t.buf = append(t.buf, '"')
	}
	if len(labels) > 1 {
		t.buf = append(t.buf, '}')
	}
	t.buf = append(t.buf, ' ')
}

func (t *textWriter) uint(v uint64) { t.buf = append(strconv.AppendUint(t.buf, v, 10), '\n') }

func (t *textWriter) int(v int64) { t.buf = append(strconv.AppendInt(t.buf, v, 10), '\n') }

func (t *textWriter) float(v float64) {
	t.buf = append(strconv.AppendFloat(t.buf, v, 'g', -1, 64), '\n')
}

// histogram writes h's cumulative buckets, sum and count, each with
// labels and the bucket's le.
func (t *textWriter) histogram(name string, h *histogram, labels ...string) {
	withLE := append(labels[:len(labels):len(labels)], "le", "")
	var cum uint64
	for i, b := range bucketBounds() {
		cum += h.counts[i].Load()
		withLE[len(withLE)-1] = strconv.FormatFloat(b.Seconds(), 'g', -1, 64)
		t.sample(name+"_bucket", withLE...)
		t.uint(cum)
	}
	cum += h.counts[numBuckets].Load()
	withLE[len(withLE)-1] = "+Inf"
	t.sample(name+"_bucket", withLE...)
	t.uint(cum)
	t.sample(name+"_sum", labels...)
	t.float(float64(h.sumNanos.Load()) / 1e9)
	t.sample(name+"_count", labels...)
	t.uint(cum)
}

// appendLabelValue escapes v as the text format requires: backslash,
// double quote and newline.
func appendLabelValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}
