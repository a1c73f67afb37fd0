package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/keygate/keygate/internal/offheap"
	"github.com/keygate/keygate/server"
)

// metricTypes are every family GET /metrics writes once each has a sample.
var metricTypes = map[string]dto.MetricType{
	"keygate_http_requests_total":           dto.MetricType_COUNTER,
	"keygate_http_request_duration_seconds": dto.MetricType_HISTOGRAM,
	"keygate_key_checks_total":              dto.MetricType_COUNTER,
	"keygate_limit_refusals_total":          dto.MetricType_COUNTER,
	"keygate_flush_batches_total":           dto.MetricType_COUNTER,
	"keygate_flush_failures_total":          dto.MetricType_COUNTER,
	"keygate_flush_duration_seconds":        dto.MetricType_HISTOGRAM,
	"keygate_keys_in_memory":                dto.MetricType_GAUGE,
	"keygate_limiters_in_memory":            dto.MetricType_GAUGE,
	"keygate_sessions_in_memory":            dto.MetricType_GAUGE,
	"keygate_database_size_bytes":           dto.MetricType_GAUGE,
	"keygate_offheap_mapped_bytes":          dto.MetricType_GAUGE,
}

// scraped is one scrape, parsed by Prometheus's own parser.
type scraped map[string]*dto.MetricFamily

// scrape reads h's metrics as Prometheus would, failing the test if the
// text does not parse.
func scrape(t testing.TB, h http.Handler) scraped {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, rec.Body)
	}
	return fams
}

// value is the sample of family name with exactly labels (name, value
// pairs): a counter's or gauge's value, a histogram's count; -1 if absent.
func (s scraped) value(name string, labels ...string) float64 {
	fam := s[name]
	if fam == nil {
		return -1
	}
	for _, m := range fam.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch fam.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func hasLabels(m *dto.Metric, labels []string) bool {
	if len(m.GetLabel())*2 != len(labels) {
		return false
	}
	for _, lp := range m.GetLabel() {
		found := false
		for i := 0; i+1 < len(labels); i += 2 {
			found = found || (labels[i] == lp.GetName() && labels[i+1] == lp.GetValue())
		}
		if !found {
			return false
		}
	}
	return true
}

func withMetrics(c *server.Config) { c.Metrics = true }

// Issue 7 item 2: requests by route and status, key checks by outcome,
// limit refusals by limit, flushes, and what is held in memory.
func TestMetrics_Counts(t *testing.T) {
	ts := newTestServer(t, withMetrics)
	_, pair := ts.signUp("metrics@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "m"})
	revoked := ts.newKey(pair.AccessToken, map[string]string{"name": "r"})
	want(t, ts.do("DELETE", "/v1/keys/"+revoked.ID, nil, bearer(pair.AccessToken)), 204, "", nil)

	chat := `{"message":"hi"}`
	steps := []struct {
		name, method, path, key string
		repeat, wantStatus      int
		advance                 time.Duration // before the step
	}{
		{"no key", "POST", "/v1/chat", "", 1, 401, 0},
		{"unknown key", "POST", "/v1/chat", "kg_live_" + strings.Repeat("x", 43), 1, 401, 0},
		{"revoked key", "POST", "/v1/chat", revoked.Key, 1, 401, 0},
		{"tier not admitted", "GET", "/v1/pro-only", k.Key, 1, 403, 0},
		{"within the minute", "POST", "/v1/chat", k.Key, 5, 200, 0},
		{"over the minute", "POST", "/v1/chat", k.Key, 1, 429, 0},
		{"next minutes, to the day's 20", "POST", "/v1/chat", k.Key, 5, 200, time.Minute},
		{"third minute", "POST", "/v1/chat", k.Key, 5, 200, time.Minute},
		{"fourth minute", "POST", "/v1/chat", k.Key, 5, 200, time.Minute},
		{"over the day", "POST", "/v1/chat", k.Key, 1, 429, time.Minute},
		{"no route", "GET", "/nope", "", 1, 404, 0},
		{"wrong method", "DELETE", "/healthz", "", 1, 405, 0},
		{"a wildcard route", "GET", "/v1/keys/" + k.ID, pair.AccessToken, 1, 200, 0},
	}
	for _, st := range steps {
		ts.clock.Advance(st.advance)
		for range st.repeat {
			var hdr []string
			if st.key != "" {
				hdr = append(hdr, bearer(st.key))
			}
			var body any
			if st.method == "POST" {
				body = chat
			}
			if rec := ts.do(st.method, st.path, body, hdr...); rec.Code != st.wantStatus {
				t.Fatalf("%s: status %d, want %d: %s", st.name, rec.Code, st.wantStatus, rec.Body)
			}
		}
	}
	before := scrape(t, ts)
	if err := ts.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, ts)

	for name, typ := range metricTypes {
		if fam := got[name]; fam == nil || fam.GetType() != typ {
			t.Errorf("family %s: %v, want type %v", name, fam, typ)
		}
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"keygate_http_requests_total", []string{"route", "POST /v1/chat", "code", "200"}, 20},
		{"keygate_http_requests_total", []string{"route", "POST /v1/chat", "code", "401"}, 3},
		{"keygate_http_requests_total", []string{"route", "POST /v1/chat", "code", "429"}, 2},
		{"keygate_http_requests_total", []string{"route", "GET /v1/pro-only", "code", "403"}, 1},
		{"keygate_http_requests_total", []string{"route", "GET /v1/keys/{id}", "code", "200"}, 1},
		{"keygate_http_requests_total", []string{"route", "other", "code", "404"}, 1},
		{"keygate_http_requests_total", []string{"route", "other", "code", "405"}, 1},
		{"keygate_http_request_duration_seconds", []string{"route", "POST /v1/chat"}, 25},
		{"keygate_key_checks_total", []string{"outcome", "valid"}, 20},
		{"keygate_key_checks_total", []string{"outcome", "not_found"}, 1},
		{"keygate_key_checks_total", []string{"outcome", "revoked"}, 1},
		{"keygate_key_checks_total", []string{"outcome", "forbidden"}, 1},
		{"keygate_key_checks_total", []string{"outcome", "rate_limited"}, 1},
		{"keygate_key_checks_total", []string{"outcome", "usage_exceeded"}, 1},
		{"keygate_key_checks_total", []string{"outcome", "expired"}, 0},
		{"keygate_key_checks_total", []string{"outcome", "disabled"}, 0},
		{"keygate_limit_refusals_total", []string{"limit", "minute"}, 1},
		{"keygate_limit_refusals_total", []string{"limit", "day"}, 1},
		{"keygate_flush_batches_total", nil, before.value("keygate_flush_batches_total") + 1},
		{"keygate_flush_failures_total", nil, 0},
		{"keygate_flush_duration_seconds", nil, before.value("keygate_flush_duration_seconds") + 1},
		{"keygate_keys_in_memory", nil, 2},
		{"keygate_limiters_in_memory", nil, 1},
		{"keygate_sessions_in_memory", nil, 1},
	}
	for _, c := range checks {
		if v := got.value(c.name, c.labels...); v != c.want {
			t.Errorf("%s%q = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if v := got.value("keygate_database_size_bytes"); v <= 0 {
		t.Errorf("keygate_database_size_bytes = %v", v)
	}
}

// The off-heap gauge reads what the process holds mapped, which the Go
// runtime's own figures leave out.
func TestMetrics_OffheapMapped(t *testing.T) {
	ts := newTestServer(t, withMetrics)
	var a offheap.Arena
	defer a.ReleaseAll()
	a.Block(1 << 20)
	// An earlier test's tables may be given back meanwhile (they are when
	// collected), so the scrape is compared with a count that held still
	// around it.
	for range 10 {
		before := offheap.Mapped()
		got := scrape(t, ts).value("keygate_offheap_mapped_bytes")
		if offheap.Mapped() != before {
			continue
		}
		if got != float64(before) {
			t.Fatalf("keygate_offheap_mapped_bytes = %v, want %v", got, before)
		}
		if offheap.Maps && got < 1<<20 {
			t.Fatalf("keygate_offheap_mapped_bytes = %v with a 1 MiB block mapped", got)
		}
		return
	}
	t.Fatal("the mapped memory never held still for a scrape")
}

// A request that matched only a catch-all is counted as "other", whatever
// its path, so a scan of random paths adds no series.
func TestMetrics_BoundedRoutes(t *testing.T) {
	ts := newTestServer(t, withMetrics)
	for _, path := range []string{"/a", "/b/c", "/v1/admin/nope", "/v1/admin", "//x"} {
		ts.do("GET", path, nil)
	}
	got := scrape(t, ts)
	for _, m := range got["keygate_http_request_duration_seconds"].GetMetric() {
		if route := m.GetLabel()[0].GetValue(); route != "other" {
			t.Errorf("route %q counted", route)
		}
	}
	if v := got.value("keygate_http_request_duration_seconds", "route", "other"); v != 5 {
		t.Errorf("other = %v, want 5", v)
	}
}

// Metrics are off by default: GET /metrics is an ordinary 404, and
// MetricsHandler still serves them for a listener of their own.
func TestMetrics_Disabled(t *testing.T) {
	ts := newTestServer(t)
	want(t, ts.do("GET", "/metrics", nil), 404, "not_found", nil)
	got := scrape(t, ts.MetricsHandler())
	if v := got.value("keygate_http_requests_total", "route", "other", "code", "404"); v != 1 {
		t.Errorf("the 404 = %v, want 1", v)
	}
}

// A reload builds a new route table; the counters carry on.
func TestMetrics_SurviveReload(t *testing.T) {
	ts := newTestServer(t, withMetrics)
	want(t, ts.do("GET", "/healthz", nil), 200, "", nil)
	if err := ts.Reload(ts.config.Tiers, ts.config.Routes); err != nil {
		t.Fatal(err)
	}
	want(t, ts.do("GET", "/healthz", nil), 200, "", nil)
	if v := scrape(t, ts).value("keygate_http_requests_total", "route", "GET /healthz", "code", "200"); v != 2 {
		t.Errorf("healthz = %v, want 2", v)
	}
}

// A configured path may hold characters the text format escapes.
func TestMetrics_LabelEscaping(t *testing.T) {
	path := `/v1/say"hi\there`
	ts := newTestServer(t, withMetrics, func(c *server.Config) {
		c.Routes = append(c.Routes, server.Route{Method: "GET", Path: path, Tiers: []string{"basic"}})
	})
	want(t, ts.do("GET", `/v1/say%22hi%5Cthere`, nil), 401, "unauthorized", nil)
	if v := scrape(t, ts).value("keygate_http_requests_total", "route", "GET "+path, "code", "401"); v != 1 {
		t.Errorf("escaped route = %v, want 1", v)
	}
}

// A batch that fails to commit is counted as a failure, not a batch.
func TestMetrics_FlushFailure(t *testing.T) {
	ts := newTestServer(t, withMetrics)
	_, pair := ts.signUp("flush@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "f"})
	want(t, ts.chat(k.Key), 200, "", nil)
	if err := ts.db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ts.Flush(context.Background()); err == nil {
		t.Fatal("flush to a closed database succeeded")
	}
	got := scrape(t, ts)
	if v := got.value("keygate_flush_failures_total"); v != 1 {
		t.Errorf("failures = %v, want 1", v)
	}
	if v := got.value("keygate_flush_batches_total"); v != 0 {
		t.Errorf("batches = %v, want 0", v)
	}
}

// Logging out takes the session out of memory, and the gauge follows.
func TestMetrics_Sessions(t *testing.T) {
	ts := newTestServer(t, withMetrics)
	_, alice := ts.signUp("alice@example.com")
	ts.signUp("bob@example.com")
	if v := scrape(t, ts).value("keygate_sessions_in_memory"); v != 2 {
		t.Fatalf("sessions = %v, want 2", v)
	}
	rec := ts.do("POST", "/v1/auth/logout", map[string]string{"refresh_token": alice.RefreshToken}, bearer(alice.AccessToken))
	if rec.Code >= 300 {
		t.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	if v := scrape(t, ts).value("keygate_sessions_in_memory"); v != 1 {
		t.Errorf("sessions after a logout = %v, want 1", v)
	}
}
