package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
)

// TestHeaderValues_Number gives numbers on both sides of the made-once
// range: each is its decimal text, in a value of capacity one, and an Add
// to a shared one leaves it alone.
func TestHeaderValues_Number(t *testing.T) {
	hv := new(headerValues)
	last := int64(len(smallValues))
	for _, n := range []int64{-1, 0, 1, 59, 60, last - 1, last, 86400, 1 << 40} {
		text := strconv.FormatInt(n, 10)
		for name, v := range map[string][]string{"number": hv.number(n), "numberText": hv.numberText(n, hv.str([]byte(text)))} {
			if len(v) != 1 || cap(v) != 1 || v[0] != text {
				t.Errorf("%s(%d) = %q with capacity %d", name, n, v, cap(v))
			}
		}
	}
	h := http.Header{"A": hv.number(7)}
	h.Add("A", "added")
	if v := hv.number(7); v[0] != "7" || smallValues[8] != "8" {
		t.Errorf("after an Add: %q, next %q", v, smallValues[8])
	}
}

// TestSetLimitHeaders_Values checks the fields against the decision, small
// and large numbers alike, and that Retry-After goes out only with a refusal.
func TestSetLimitHeaders_Values(t *testing.T) {
	tiers, err := newTiers(map[string]limiter.Limits{"basic": {PerMinute: 5000, PerDay: 1 << 40}})
	if err != nil {
		t.Fatal(err)
	}
	tr := tiers["basic"]
	for _, tc := range []struct {
		d       limiter.Decision
		refused bool
		want    map[string]string
	}{
		{limiter.Decision{Allowed: true, MinuteRemaining: 4999, MinuteReset: 12 * time.Millisecond, DayRemaining: 1<<40 - 1, DayReset: 12 * time.Hour},
			false, map[string]string{
				"Ratelimit":             `"minute";r=4999;t=1, "day";r=1099511627775;t=43200`,
				"X-Ratelimit-Remaining": "4999", "X-Ratelimit-Reset": "1", "Retry-After": "",
			}},
		{limiter.Decision{MinuteRemaining: 0, MinuteReset: 60 * time.Second, DayRemaining: 7, DayReset: time.Hour, RetryAfter: 11500 * time.Millisecond, Reason: limiter.Minute},
			true, map[string]string{
				"Ratelimit":             `"minute";r=0;t=60, "day";r=7;t=3600`,
				"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "60", "Retry-After": "12",
			}},
		{limiter.Decision{MinuteRemaining: 1200, MinuteReset: 1500 * time.Second, DayRemaining: 0, DayReset: 80000 * time.Second, RetryAfter: 80000 * time.Second, Reason: limiter.Day},
			true, map[string]string{
				"Ratelimit":             `"minute";r=1200;t=1500, "day";r=0;t=80000`,
				"X-Ratelimit-Remaining": "1200", "X-Ratelimit-Reset": "1500", "Retry-After": "80000",
			}},
	} {
		h := http.Header{}
		setLimitHeaders(h, tr, tc.d, tc.refused)
		tc.want["Ratelimit-Policy"] = `"minute";q=5000;w=60, "day";q=1099511627776;w=86400`
		tc.want["X-Ratelimit-Limit"] = "5000"
		for name, v := range tc.want {
			if got := h.Get(name); got != v {
				t.Errorf("%+v: %s = %q, want %q", tc.d, name, got, v)
			}
		}
	}
}

// TestLimitRefusal_NoAllocs: refusing a key over its limit, headers and
// body, costs no allocation.
func TestLimitRefusal_NoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops buffers under the race detector")
	}
	tiers, err := newTiers(map[string]limiter.Limits{"basic": {PerMinute: 1, PerDay: 1}})
	if err != nil {
		t.Fatal(err)
	}
	tr := tiers["basic"]
	s := &Server{}
	w := &headerOnlyWriter{h: make(http.Header)}
	r := httptest.NewRequest("POST", "/v1/chat", nil)
	d := limiter.Decision{MinuteReset: time.Minute, DayReset: 20 * time.Hour, RetryAfter: 20 * time.Hour, Reason: limiter.Day}
	v := verification{code: codeUsageExceeded, tier: tr, decision: d, limited: true}
	allocs := testing.AllocsPerRun(100, func() {
		setLimitHeaders(w.h, tr, v.decision, v.refusedByLimit())
		s.writeError(w, r, v.err())
	})
	if allocs != 0 {
		t.Errorf("%v allocations per 429, want 0", allocs)
	}
	if got := w.h.Get("Retry-After"); got != "72000" {
		t.Errorf("Retry-After = %q", got)
	}
}
