package server

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metrics are the Server's own counters, exposed by MetricsHandler. They
// live in the Server, not in a global registry. Everything a request
// touches is an atomic in a fixed place, found without a lookup: a route's
// counters are bound to its handler when the route table is built.
type metrics struct {
	mu     sync.Mutex               // guards routes; taken only when a table is built and at scrape
	routes map[string]*routeMetrics // by ServeMux pattern; kept across reloads so counters never go back
	other  *routeMetrics            // the catch-alls, and whatever the mux answers itself (redirects)

	writers sync.Pool // *metricsWriter, so instrumenting a request allocates nothing

	keyChecks     [numKeyCheckCodes]atomic.Uint64 // by keyCheckCodes index
	limitRefusals [2]atomic.Uint64                // minute, day

	// served counts finished requests: a background job paces itself by
	// whether it moves (see Server.Pace).
	served atomic.Uint64

	flushBatches  atomic.Uint64 // batches committed
	flushFailures atomic.Uint64 // batches that failed to commit
	flushDuration histogram
}

func newMetrics() *metrics {
	m := &metrics{routes: make(map[string]*routeMetrics), other: &routeMetrics{pattern: "other"}}
	m.writers.New = func() any { return new(metricsWriter) }
	return m
}

// routeMetrics are one route's requests by status code and its latency.
type routeMetrics struct {
	pattern string
	codes   [500]atomic.Uint64 // responses by status code - 100
	odd     atomic.Uint64      // responses with a code above 599, which only an upstream could send
	latency histogram
}

func (rm *routeMetrics) observe(code int, d time.Duration) {
	if i := code - 100; i >= 0 && i < len(rm.codes) {
		rm.codes[i].Add(1)
	} else {
		rm.odd.Add(1)
	}
	rm.latency.observe(d)
}

// route returns the counters of pattern, made on first use. A catch-all
// pattern counts as "other", so the number of series stays bounded by the
// configured routes.
func (m *metrics) route(pattern string) *routeMetrics {
	if pattern == rootSubtree || pattern == adminSubtree {
		return m.other
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rm := m.routes[pattern]
	if rm == nil {
		rm = &routeMetrics{pattern: pattern}
		m.routes[pattern] = rm
	}
	return rm
}

// sortedRoutes is every route with counters, "other" last, in a stable
// order for the exposition.
func (m *metrics) sortedRoutes() []*routeMetrics {
	m.mu.Lock()
	out := make([]*routeMetrics, 0, len(m.routes)+1)
	for _, rm := range m.routes {
		out = append(out, rm)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b *routeMetrics) int { return strings.Compare(a.pattern, b.pattern) })
	return append(out, m.other)
}

// routed marks the requests next serves as the route pattern's. It is
// bound when the table is built, so the request pays a type assertion,
// not a lookup.
func (m *metrics) routed(pattern string, next http.Handler) http.Handler {
	rm := m.route(pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mw, ok := w.(*metricsWriter); ok {
			mw.route = rm
		}
		next.ServeHTTP(w, r)
	})
}

// instrument counts every request next serves, by the route that served
// it (set by routed; "other" if none did) and its final status, and times
// it. It goes outside recoverPanics, so a panic counts as the 500 sent.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mw := m.writers.Get().(*metricsWriter)
		mw.statusWriter = statusWriter{ResponseWriter: w, status: http.StatusOK}
		mw.route = m.other
		defer m.done(mw, time.Now())
		next.ServeHTTP(mw, r)
	})
}

// done records the request mw wrote and returns mw to the pool: a
// ResponseWriter may not be used once ServeHTTP has returned. The
// duration is measured on the monotonic clock, not the Server's Now,
// which tests fix.
func (m *metrics) done(mw *metricsWriter, start time.Time) {
	mw.route.observe(mw.status, time.Since(start))
	m.served.Add(1)
	*mw = metricsWriter{}
	m.writers.Put(mw)
}

// metricsWriter is a statusWriter that also carries the route serving the
// request.
type metricsWriter struct {
	statusWriter
	route *routeMetrics
}

// numKeyCheckCodes is how many verification codes there are.
const numKeyCheckCodes = 8

// keyCheckCodes are the verification codes in the order keyChecks counts
// them; VALID first, as the commonest.
func keyCheckCodes() [numKeyCheckCodes]string {
	return [...]string{codeValid, codeNotFound, codeRevoked, codeExpired, codeDisabled,
		codeForbidden, codeRateLimited, codeUsageExceeded}
}

// keyChecked counts one verification with code, and a limit's refusal.
func (m *metrics) keyChecked(code string) {
	for i, c := range keyCheckCodes() {
		if c == code {
			m.keyChecks[i].Add(1)
			break
		}
	}
	switch code {
	case codeRateLimited:
		m.limitRefusals[0].Add(1)
	case codeUsageExceeded:
		m.limitRefusals[1].Add(1)
	}
}

// flushed counts one batch written, or not, in d.
func (m *metrics) flushed(err error, d time.Duration) {
	if err != nil {
		m.flushFailures.Add(1)
	} else {
		m.flushBatches.Add(1)
	}
	m.flushDuration.observe(d)
}

// numBuckets is how many finite buckets a histogram has.
const numBuckets = 14

// bucketBounds are the upper bounds of the histogram buckets, from half
// a millisecond to ten seconds.
func bucketBounds() [numBuckets]time.Duration {
	const ms = time.Millisecond
	return [...]time.Duration{ms / 2, ms, 5 * ms / 2, 5 * ms, 10 * ms, 25 * ms, 50 * ms, 100 * ms,
		250 * ms, 500 * ms, time.Second, 5 * time.Second / 2, 5 * time.Second, 10 * time.Second}
}

// histogram counts durations into bucketBounds. Counts are per bucket, not
// cumulative, so an observation touches one bucket; the exposition adds
// them up.
type histogram struct {
	counts   [numBuckets + 1]atomic.Uint64 // the last is +Inf
	sumNanos atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for _, b := range bucketBounds() {
		if d <= b {
			break
		}
		i++
	}
	h.counts[i].Add(1)
	h.sumNanos.Add(uint64(d))
}
