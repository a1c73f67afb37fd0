package limiter_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
)

// t0 is noon UTC, far from midnight, so day figures stay simple.
var t0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

// step is one call in a rate-style step table: at t0+at, with lim, call
// AllowAt (or PeekAt when peek is set) and compare the fields of want that
// the table's check function looks at.
type step struct {
	at   time.Duration
	lim  limiter.Limits
	peek bool
	want limiter.Decision
}

// minuteFields are the fields the bucket tables compare.
type minuteFields struct {
	Allowed    bool
	Reason     limiter.Reason
	Remaining  int
	Reset      time.Duration
	RetryAfter time.Duration
}

func minuteOf(d limiter.Decision) minuteFields {
	return minuteFields{d.Allowed, d.Reason, d.MinuteRemaining, d.MinuteReset, d.RetryAfter}
}

// dayFields are the fields the day tables compare.
type dayFields struct {
	Allowed         bool
	Reason          limiter.Reason
	DayRemaining    int64
	DayReset        time.Duration
	RetryAfter      time.Duration
	MinuteRemaining int
}

func dayOf(d limiter.Decision) dayFields {
	return dayFields{d.Allowed, d.Reason, d.DayRemaining, d.DayReset, d.RetryAfter, d.MinuteRemaining}
}

// run plays steps on key k of l starting at start and compares with view.
func run[V comparable](t *testing.T, l *limiter.Limiter, start time.Time, steps []step, view func(limiter.Decision) V) {
	t.Helper()
	for i, st := range steps {
		call := l.AllowAt
		if st.peek {
			call = l.PeekAt
		}
		got, err := call("k", st.lim, start.Add(st.at))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if g, w := view(got), view(st.want); g != w {
			t.Errorf("step %d (at +%v, %+v, peek %v):\n got  %+v\n want %+v", i, st.at, st.lim, st.peek, g, w)
		}
	}
}

func allowed(remaining int, reset time.Duration) limiter.Decision {
	return limiter.Decision{Allowed: true, MinuteRemaining: remaining, MinuteReset: reset}
}

func refusedMinute(reset, retry time.Duration) limiter.Decision {
	return limiter.Decision{Reason: limiter.Minute, MinuteReset: reset, RetryAfter: retry}
}

func TestLimiter_AllowAt_Bucket(t *testing.T) {
	three := limiter.Limits{PerMinute: 3, PerDay: 1000}
	six := limiter.Limits{PerMinute: 6, PerDay: 1000}
	two := limiter.Limits{PerMinute: 2, PerDay: 1000}
	steps := []step{
		{0, three, false, allowed(2, 20*time.Second)},
		{0, three, false, allowed(1, 40*time.Second)},
		{0, three, false, allowed(0, time.Minute)},
		{0, three, false, refusedMinute(time.Minute, 20*time.Second)},
		{10 * time.Second, three, false, refusedMinute(50*time.Second, 10*time.Second)},
		{20 * time.Second, three, false, allowed(0, time.Minute)},
		{20 * time.Second, three, false, refusedMinute(time.Minute, 20*time.Second)},
		// raised: same tokens (0), faster refill, bigger bucket
		{20 * time.Second, six, false, refusedMinute(time.Minute, 10*time.Second)},
		{30 * time.Second, six, false, allowed(0, time.Minute)},
		{90 * time.Second, six, false, allowed(5, 10*time.Second)},
		// lowered: the 6 tokens are cut to the new size of 2
		{90 * time.Second, two, false, allowed(1, 30*time.Second)},
		{90 * time.Second, two, false, allowed(0, time.Minute)},
		{90 * time.Second, two, false, refusedMinute(time.Minute, 30*time.Second)},
		{150 * time.Second, two, false, allowed(1, 30*time.Second)},
	}
	run(t, limiter.New(limiter.Options{}), t0, steps, minuteOf)
}

func TestLimiter_AllowAt_OddRateRetryPasses(t *testing.T) {
	// With PerMinute 7 a token takes 60/7 s, not a whole number of
	// nanoseconds: RetryAfter must be rounded up so a retry then passes.
	for _, perMinute := range []int{7, 11, 13, 59, 61, 97, 1000, 7919} {
		lim := limiter.Limits{PerMinute: perMinute, PerDay: 1 << 40}
		l := limiter.New(limiter.Options{})
		now := t0
		for i := 0; i < 3*perMinute; i++ {
			d, err := l.AllowAt("k", lim, now)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed {
				continue
			}
			if d.RetryAfter <= 0 || d.RetryAfter > time.Minute {
				t.Fatalf("PerMinute %d: RetryAfter %v", perMinute, d.RetryAfter)
			}
			// Rounding may overshoot by a few nanoseconds, never more.
			if early, _ := l.PeekAt("k", lim, now.Add(d.RetryAfter-time.Microsecond)); early.Allowed {
				t.Fatalf("PerMinute %d: allowed 1µs before RetryAfter %v", perMinute, d.RetryAfter)
			}
			now = now.Add(d.RetryAfter)
			if d, _ = l.AllowAt("k", lim, now); !d.Allowed {
				t.Fatalf("PerMinute %d: refused at RetryAfter: %+v", perMinute, d)
			}
		}
	}
}

func TestLimiter_AllowAt_Day(t *testing.T) {
	ten := limiter.Limits{PerMinute: 10, PerDay: 2}
	start := time.Date(2025, 3, 10, 22, 0, 0, 0, time.UTC)
	steps := []step{
		{0, ten, false, limiter.Decision{Allowed: true, DayRemaining: 1, DayReset: 2 * time.Hour, MinuteRemaining: 9}},
		{0, ten, false, limiter.Decision{Allowed: true, DayRemaining: 0, DayReset: 2 * time.Hour, MinuteRemaining: 8}},
		// refused by the day: no minute token spent (still 8)
		{0, ten, false, limiter.Decision{Reason: limiter.Day, DayReset: 2 * time.Hour, RetryAfter: 2 * time.Hour, MinuteRemaining: 8}},
		{0, ten, true, limiter.Decision{Reason: limiter.Day, DayReset: 2 * time.Hour, RetryAfter: 2 * time.Hour, MinuteRemaining: 8}},
		{119 * time.Minute, ten, false, limiter.Decision{Reason: limiter.Day, DayReset: time.Minute, RetryAfter: time.Minute, MinuteRemaining: 10}},
		// PerDay raised: compared as given
		{119 * time.Minute, limiter.Limits{PerMinute: 10, PerDay: 3}, false, limiter.Decision{Allowed: true, DayReset: time.Minute, MinuteRemaining: 9}},
		// next UTC day
		{2 * time.Hour, ten, false, limiter.Decision{Allowed: true, DayRemaining: 1, DayReset: 24 * time.Hour, MinuteRemaining: 9}},
		{2*time.Hour + time.Second, ten, false, limiter.Decision{Allowed: true, DayReset: 24*time.Hour - time.Second, MinuteRemaining: 8}},
		{2*time.Hour + time.Second, ten, false, limiter.Decision{Reason: limiter.Day, DayReset: 24*time.Hour - time.Second, RetryAfter: 24*time.Hour - time.Second, MinuteRemaining: 8}},
	}
	run(t, limiter.New(limiter.Options{}), start, steps, dayOf)
}

func TestLimiter_AllowAt_DayRetryWaitsForBucket(t *testing.T) {
	// Ten seconds before midnight with an empty bucket of 1/min, the next
	// request passes only when the bucket refills, 60s on, not at midnight.
	one := limiter.Limits{PerMinute: 1, PerDay: 1}
	start := time.Date(2025, 3, 10, 23, 59, 50, 0, time.UTC)
	steps := []step{
		{0, one, false, limiter.Decision{Allowed: true, DayReset: 10 * time.Second}},
		{0, one, false, limiter.Decision{Reason: limiter.Day, DayReset: 10 * time.Second, RetryAfter: time.Minute}},
		{10 * time.Second, one, false, limiter.Decision{Reason: limiter.Minute, DayRemaining: 1, DayReset: 24 * time.Hour, RetryAfter: 50 * time.Second}},
		{time.Minute, one, false, limiter.Decision{Allowed: true, DayReset: 24*time.Hour - 50*time.Second}},
	}
	run(t, limiter.New(limiter.Options{}), start, steps, dayOf)
}

func TestLimiter_AllowAt_LimitsBelowOne(t *testing.T) {
	l := limiter.New(limiter.Options{})
	d, err := l.AllowAt("k", limiter.Limits{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := limiter.Limits{PerMinute: 1, PerDay: 1}
	if !d.Allowed || d.Limits != want {
		t.Fatalf("got %+v, want allowed with limits %+v", d, want)
	}
	if d, _ = l.AllowAt("k", limiter.Limits{PerMinute: -5, PerDay: -5}, t0.Add(time.Hour)); d.Reason != limiter.Day {
		t.Fatalf("second call: got %+v, want refused by day", d)
	}
}

func TestLimiter_AllowAt_Load(t *testing.T) {
	errStore := errors.New("store down")
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		load       func(key string, day time.Time) (int64, error)
		lim        limiter.Limits
		wantErr    error
		wantReason limiter.Reason
		wantDayRem int64
		wantLen    int
		wantDrain  string
	}{
		{"error", func(string, time.Time) (int64, error) { return 0, errStore }, limiter.Limits{PerMinute: 5, PerDay: 5}, errStore, 0, 0, 0, ""},
		{"seeded at limit", func(string, time.Time) (int64, error) { return 5, nil }, limiter.Limits{PerMinute: 5, PerDay: 5}, nil, limiter.Day, 0, 1, ""},
		{"seeded below limit", func(string, time.Time) (int64, error) { return 3, nil }, limiter.Limits{PerMinute: 5, PerDay: 5}, nil, limiter.None, 1, 1, "k/2025-03-10=4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			l := limiter.New(limiter.Options{Load: func(key string, d time.Time) (int64, error) {
				calls = append(calls, fmt.Sprintf("%s@%s", key, d.Format(time.RFC3339)))
				return tc.load(key, d)
			}})
			d, err := l.AllowAt("k", tc.lim, t0)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (d.Reason != tc.wantReason || d.DayRemaining != tc.wantDayRem) {
				t.Errorf("got %+v, want reason %v day remaining %d", d, tc.wantReason, tc.wantDayRem)
			}
			if l.Len() != tc.wantLen {
				t.Errorf("Len = %d, want %d", l.Len(), tc.wantLen)
			}
			if want := "k@" + day.Format(time.RFC3339); !slices.Equal(calls, []string{want}) {
				t.Errorf("Load calls %v, want [%s]", calls, want)
			}
			if got := usages(l.Drain()); got != tc.wantDrain {
				t.Errorf("Drain = %q, want %q (a seed alone is not a change)", got, tc.wantDrain)
			}
		})
	}
}

func TestLimiter_PeekAt(t *testing.T) {
	three := limiter.Limits{PerMinute: 3, PerDay: 1000}
	steps := []step{
		{0, three, true, limiter.Decision{Allowed: true, MinuteRemaining: 3}},
		{0, three, true, limiter.Decision{Allowed: true, MinuteRemaining: 3}},
		{0, three, false, allowed(2, 20*time.Second)},
		{0, three, false, allowed(1, 40*time.Second)},
		{0, three, false, allowed(0, time.Minute)},
		{0, three, true, refusedMinute(time.Minute, 20*time.Second)},
		{20 * time.Second, three, true, limiter.Decision{Allowed: true, MinuteReset: 40 * time.Second, MinuteRemaining: 1}},
		{20 * time.Second, three, false, allowed(0, time.Minute)},
	}
	l := limiter.New(limiter.Options{})
	run(t, l, t0, steps, minuteOf)
	if n, _ := l.CountAt("k", t0); n != 4 {
		t.Errorf("CountAt = %d, want 4 (peeks do not count)", n)
	}
}

func TestLimiter_CountAt(t *testing.T) {
	lim := limiter.Limits{PerMinute: 100, PerDay: 100}
	l := limiter.New(limiter.Options{})
	allow := func(at time.Time) {
		t.Helper()
		if _, err := l.AllowAt("k", lim, at); err != nil {
			t.Fatal(err)
		}
	}
	type count struct {
		n  int64
		ok bool
	}
	check := func(at time.Time, want count) {
		t.Helper()
		if n, ok := l.CountAt("k", at); (count{n, ok}) != want {
			t.Errorf("CountAt(%v) = %d, %v; want %+v", at, n, ok, want)
		}
	}
	next := t0.Add(24 * time.Hour)
	check(t0, count{0, false})
	allow(t0)
	allow(t0)
	check(t0, count{2, true})
	check(next, count{0, true})
	allow(next)
	check(next, count{1, true})
	check(t0, count{2, true}) // previous day kept until drained
	l.Drain()
	check(t0, count{0, false})
	check(t0.Add(-24*time.Hour), count{0, false})
}

// usages renders a Drain result in a stable order for comparison.
func usages(us []limiter.Usage) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = fmt.Sprintf("%s/%s=%d", u.Key, u.Day.Format(time.DateOnly), u.Count)
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

func TestLimiter_Drain(t *testing.T) {
	lim := limiter.Limits{PerMinute: 100, PerDay: 3}
	d1, d2, d3 := t0, t0.Add(24*time.Hour), t0.Add(48*time.Hour)
	type call struct {
		key string
		at  time.Time
	}
	steps := []struct {
		name  string
		calls []call
		want  string
	}{
		{"nothing used", nil, ""},
		{"changed keys", []call{{"a", d1}, {"a", d1}, {"b", d1}}, "a/2025-03-10=2 b/2025-03-10=1"},
		{"nothing changed", nil, ""},
		{"used again", []call{{"a", d1}}, "a/2025-03-10=3"},
		{"refused does not count", []call{{"a", d1}}, ""},
		{"rollover keeps previous day", []call{{"b", d1}, {"b", d2}}, "b/2025-03-10=2 b/2025-03-11=1"},
		{"two rollovers undrained", []call{{"c", d1}, {"c", d2}, {"c", d2}, {"c", d3}}, "c/2025-03-10=1 c/2025-03-11=2 c/2025-03-12=1"},
		{"rollover of a drained day", []call{{"c", d3.Add(24 * time.Hour)}}, "c/2025-03-13=1"},
	}
	// DrainEach hands over exactly what Drain returns, one call each.
	drainEach := func(l *limiter.Limiter) []limiter.Usage {
		var us []limiter.Usage
		l.DrainEach(func(u limiter.Usage) { us = append(us, u) }, nil)
		return us
	}
	for name, drain := range map[string]func(*limiter.Limiter) []limiter.Usage{"Drain": (*limiter.Limiter).Drain, "DrainEach": drainEach} {
		l := limiter.New(limiter.Options{})
		for _, st := range steps {
			for _, c := range st.calls {
				if _, err := l.AllowAt(c.key, lim, c.at); err != nil {
					t.Fatal(err)
				}
			}
			if got := usages(drain(l)); got != st.want {
				t.Errorf("%s: %s = %q, want %q", st.name, name, got, st.want)
			}
		}
	}
}

func TestLimiter_Drain_DayIsUTCMidnight(t *testing.T) {
	l := limiter.New(limiter.Options{})
	at := time.Date(2025, 3, 10, 23, 30, 0, 0, time.FixedZone("UTC-5", -5*3600)) // 2025-03-11 04:30 UTC
	if _, err := l.AllowAt("k", limiter.Limits{PerMinute: 1, PerDay: 1}, at); err != nil {
		t.Fatal(err)
	}
	got := l.Drain()
	want := time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)
	if len(got) != 1 || !got[0].Day.Equal(want) || got[0].Day.Location() != time.UTC {
		t.Fatalf("Drain = %+v, want one usage on %v", got, want)
	}
}

func TestLimiter_Evict(t *testing.T) {
	lim := limiter.Limits{PerMinute: 10, PerDay: 100}
	loads := map[string]int{}
	l := limiter.New(limiter.Options{Load: func(key string, _ time.Time) (int64, error) {
		loads[key]++
		return 0, nil
	}})
	use := func(key string, at time.Time) {
		t.Helper()
		if _, err := l.AllowAt(key, lim, at); err != nil {
			t.Fatal(err)
		}
	}
	use("idle", t0)
	use("dirty", t0)
	l.Drain()
	use("dirty", t0)
	use("recent", t0.Add(9*time.Minute))
	l.Drain()
	use("dirty", t0)

	steps := []struct {
		name    string
		drain   bool
		at      time.Duration
		want    int
		wantLen int
	}{
		{"nothing idle yet", false, 9 * time.Minute, 0, 3},
		{"idle dropped, dirty and recent kept", false, 10 * time.Minute, 1, 2},
		{"dirty kept while undrained", false, time.Hour, 1, 1},
		{"dirty dropped once drained", true, time.Hour, 1, 0},
	}
	for _, st := range steps {
		if st.drain {
			l.Drain()
		}
		if got := l.Evict(t0.Add(st.at)); got != st.want || l.Len() != st.wantLen {
			t.Errorf("%s: Evict = %d, Len = %d; want %d, %d", st.name, got, l.Len(), st.want, st.wantLen)
		}
	}
	use("idle", t0.Add(2*time.Hour))
	if loads["idle"] != 2 || loads["recent"] != 1 {
		t.Errorf("loads = %v, want idle loaded twice and recent once", loads)
	}
}

func TestLimiter_Evict_IdleTTL(t *testing.T) {
	tests := []struct {
		name    string
		ttl     time.Duration
		at      time.Duration
		wantLen int
	}{
		{"zero is 10 minutes, not yet", 0, 10*time.Minute - 1, 1},
		{"zero is 10 minutes", 0, 10 * time.Minute, 0},
		{"under a minute is raised, not yet", time.Second, time.Minute - 1, 1},
		{"under a minute is raised", time.Second, time.Minute, 0},
		{"as given", 5 * time.Minute, 5 * time.Minute, 0},
		{"clock behind last use", time.Minute, -time.Hour, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := limiter.New(limiter.Options{IdleTTL: tc.ttl})
			if _, err := l.PeekAt("k", limiter.Limits{PerMinute: 1, PerDay: 1}, t0); err != nil {
				t.Fatal(err)
			}
			l.Evict(t0.Add(tc.at))
			if l.Len() != tc.wantLen {
				t.Errorf("Len = %d, want %d", l.Len(), tc.wantLen)
			}
		})
	}
}

func TestLimiter_Evict_MemoryFollowsActiveKeys(t *testing.T) {
	const idle = 20000
	lim := limiter.Limits{PerMinute: 10, PerDay: 100}
	l := limiter.New(limiter.Options{})
	for i := range idle {
		if _, err := l.AllowAt(fmt.Sprint("idle-", i), lim, t0); err != nil {
			t.Fatal(err)
		}
	}
	l.Drain()
	if _, err := l.AllowAt("active", lim, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if l.Len() != idle+1 {
		t.Fatalf("Len = %d before Evict, want %d", l.Len(), idle+1)
	}
	if n := l.Evict(t0.Add(time.Hour)); n != idle {
		t.Errorf("Evict = %d, want %d", n, idle)
	}
	if l.Len() != 1 {
		t.Errorf("Len = %d after Evict, want 1", l.Len())
	}
	if _, ok := l.CountAt("active", t0.Add(time.Hour)); !ok {
		t.Error("active key evicted")
	}
}

func TestLimiter_AllowAt_ConcurrentFreshKey(t *testing.T) {
	lim := limiter.Limits{PerMinute: 5, PerDay: 1000}
	for round := range 200 {
		l := limiter.New(limiter.Options{Load: func(string, time.Time) (int64, error) { return 0, nil }})
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			admits  int
			minutes int
		)
		start := make(chan struct{})
		for range 60 {
			wg.Go(func() {
				<-start
				d, err := l.AllowAt("fresh", lim, t0)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if d.Allowed {
					admits++
				} else if d.Reason == limiter.Minute {
					minutes++
				}
			})
		}
		close(start)
		wg.Wait()
		if admits != 5 || minutes != 55 {
			t.Fatalf("round %d: %d admitted, %d refused by minute; want 5, 55", round, admits, minutes)
		}
		if n, _ := l.CountAt("fresh", t0); n != 5 {
			t.Fatalf("round %d: CountAt = %d, want 5", round, n)
		}
	}
}

// store is a fake usage store written by a flusher and read by Load.
type store struct {
	mu sync.Mutex
	m  map[string]int64 // key "id/date"
}

func (s *store) load(key string, day time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key+"/"+day.Format(time.DateOnly)], nil
}

func (s *store) write(us []limiter.Usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range us {
		s.m[u.Key+"/"+u.Day.Format(time.DateOnly)] = u.Count
	}
}

func TestLimiter_ConcurrentKeysDrainEvict(t *testing.T) {
	// Many goroutines hit many keys while a flusher drains, persists and
	// evicts aggressively (every entry looks idle to it). The day limit must
	// hold exactly across eviction and reload, and the store must end with
	// every admitted request.
	const (
		keys     = 50
		workers  = 16
		requests = 400
		perDay   = 60
	)
	lim := limiter.Limits{PerMinute: 1 << 30, PerDay: perDay}
	db := &store{m: map[string]int64{}}
	l := limiter.New(limiter.Options{Load: db.load})
	var (
		wg       sync.WaitGroup
		admitted [keys]int64
		mu       sync.Mutex
	)
	done := make(chan struct{})
	flushed := make(chan struct{})
	drains := 0
	drain := func() []limiter.Usage { // Drain and DrainEach by turns
		if drains++; drains%2 == 0 {
			return l.Drain()
		}
		var us []limiter.Usage
		l.DrainEach(func(u limiter.Usage) { us = append(us, u) }, nil)
		return us
	}
	go func() {
		defer close(flushed)
		for {
			select {
			case <-done:
				db.write(drain())
				return
			default:
			}
			db.write(drain())
			l.Evict(t0.Add(time.Hour))
		}
	}()
	for w := range workers {
		wg.Go(func() {
			for i := range requests {
				k := (w*7 + i) % keys
				d, err := l.AllowAt(fmt.Sprint("key-", k), lim, t0)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					mu.Lock()
					admitted[k]++
					mu.Unlock()
				}
				if i%50 == 0 {
					l.Len()
					l.CountAt(fmt.Sprint("key-", k), t0)
				}
			}
		})
	}
	wg.Wait()
	close(done)
	<-flushed
	for k, n := range admitted {
		want := min(int64(workers*requests/keys), perDay)
		stored, _ := db.load(fmt.Sprint("key-", k), t0)
		if n != want || stored != want {
			t.Errorf("key-%d: admitted %d, stored %d; want %d", k, n, stored, want)
		}
	}
}

// DrainEach and EvictPaced call between with no lock held, often enough to
// pace a flush: between may use the Limiter, even add keys to the shard
// being walked, without a deadlock, and what it adds is not lost.
func TestLimiter_PacedDrainAndEvict(t *testing.T) {
	l := limiter.New(limiter.Options{IdleTTL: time.Minute})
	lim := limiter.Limits{PerMinute: 1000, PerDay: 1000}
	const n = 5000
	for i := range n {
		if _, err := l.AllowAt(fmt.Sprintf("k%d", i), lim, t0); err != nil {
			t.Fatal(err)
		}
	}
	calls, added := 0, 0
	between := func() {
		calls++
		if _, err := l.AllowAt(fmt.Sprintf("new%d", added), lim, t0); err != nil {
			t.Fatal(err)
		}
		added++
	}
	drained := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.DrainEach(func(limiter.Usage) { drained++ }, between)
		l.EvictPaced(t0.Add(time.Hour), between)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("DrainEach or EvictPaced deadlocked with between using the Limiter")
	}
	if drained != n {
		t.Errorf("drained %d usages, want %d", drained, n)
	}
	if calls < n/64 {
		t.Errorf("between called %d times for %d keys, want at least %d", calls, n, n/64)
	}
	// The keys between added are dirty, so Evict kept them.
	if got := len(l.Drain()); got != added {
		t.Errorf("Drain after = %d usages, want the %d keys between added", got, added)
	}
}
