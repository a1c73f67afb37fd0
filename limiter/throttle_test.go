package limiter_test

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
)

// allowStep is one Throttle.AllowAt call at t0+at and its expected result.
type allowStep struct {
	key       string
	at        time.Duration
	wantOK    bool
	wantRetry time.Duration
}

// playAllow plays steps on th and reports every mismatch.
func playAllow(t *testing.T, th *limiter.Throttle, steps []allowStep) {
	t.Helper()
	for i, st := range steps {
		ok, retry := th.AllowAt(st.key, t0.Add(st.at))
		if ok != st.wantOK || retry != st.wantRetry {
			t.Errorf("step %d: AllowAt(%q, t0+%v) = %v, %v; want %v, %v",
				i, st.key, st.at, ok, retry, st.wantOK, st.wantRetry)
		}
	}
}

// repeatAllow returns n admitted steps for key at at.
func repeatAllow(key string, at time.Duration, n int) []allowStep {
	steps := make([]allowStep, n)
	for i := range steps {
		steps[i] = allowStep{key: key, at: at, wantOK: true}
	}
	return steps
}

func TestThrottle_AllowAt(t *testing.T) {
	tests := []struct {
		name  string
		opts  limiter.ThrottleOptions
		steps []allowStep
	}{
		{
			name: "20 per minute",
			opts: limiter.ThrottleOptions{PerPeriod: 20, Period: time.Minute},
			steps: append(repeatAllow("a", 0, 20),
				allowStep{"a", 0, false, 3 * time.Second},
				allowStep{"a", time.Second, false, 2 * time.Second},
				allowStep{"a", 3*time.Second - 1, false, 1},
				allowStep{"a", 3 * time.Second, true, 0},
				allowStep{"a", 3 * time.Second, false, 3 * time.Second},
				allowStep{"b", 3 * time.Second, true, 0}, // keys are independent
				allowStep{"a", 9 * time.Second, true, 0},
				allowStep{"a", 9 * time.Second, true, 0},
				allowStep{"a", 9 * time.Second, false, 3 * time.Second},
				allowStep{"a", 69 * time.Second, true, 0}, // a minute refills everything
			),
		},
		{
			name: "20 per hour",
			opts: limiter.ThrottleOptions{PerPeriod: 20, Period: time.Hour},
			steps: append(repeatAllow("a", 0, 20),
				allowStep{"a", 0, false, 3 * time.Minute},
				allowStep{"a", 3 * time.Minute, true, 0},
			),
		},
		{
			name: "zero options: 1 per minute",
			steps: []allowStep{
				{"a", 0, true, 0},
				{"a", 0, false, time.Minute},
				{"a", 59 * time.Second, false, time.Second},
				{"a", time.Minute, true, 0},
			},
		},
		{
			name: "negative per period means 1",
			opts: limiter.ThrottleOptions{PerPeriod: -3, Period: 10 * time.Second},
			steps: []allowStep{
				{"a", 0, true, 0},
				{"a", 0, false, 10 * time.Second},
			},
		},
		{
			name: "clock stepping back counts from the latest use",
			opts: limiter.ThrottleOptions{PerPeriod: 2, Period: time.Minute},
			steps: []allowStep{
				{"a", time.Minute, true, 0},
				{"a", time.Minute, true, 0},
				{"a", 0, false, time.Minute + 30*time.Second},
				{"a", time.Minute + 30*time.Second, true, 0},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			playAllow(t, limiter.NewThrottle(tc.opts), tc.steps)
		})
	}
}

// TestThrottle_AllowAt_RetryAfterIsExact checks, for rates whose token time is
// not a whole number of nanoseconds, that a refused key is still refused 1ns
// before retryAfter and admitted at retryAfter.
func TestThrottle_AllowAt_RetryAfterIsExact(t *testing.T) {
	tests := []struct {
		per    int
		period time.Duration
	}{
		{7, time.Minute},
		{3, time.Second},
		{13, time.Hour},
		{1000, time.Second},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.per, "/", tc.period), func(t *testing.T) {
			th := limiter.NewThrottle(limiter.ThrottleOptions{PerPeriod: tc.per, Period: tc.period})
			now := t0
			for range 3 * tc.per {
				ok, retry := th.AllowAt("k", now)
				if ok {
					continue
				}
				if retry <= 0 {
					t.Fatalf("refused with retryAfter %v", retry)
				}
				if ok, _ := th.AllowAt("k", now.Add(retry-1)); ok {
					t.Fatalf("admitted 1ns before retryAfter %v", retry)
				}
				now = now.Add(retry)
				if ok, _ := th.AllowAt("k", now); !ok {
					t.Fatalf("refused at retryAfter %v", retry)
				}
			}
		})
	}
}

func TestThrottle_AllowAt_SweepsFullBuckets(t *testing.T) {
	th := limiter.NewThrottle(limiter.ThrottleOptions{PerPeriod: 5, MaxKeys: 10})
	for i := range 10 {
		th.AllowAt(strconv.Itoa(i), t0)
	}
	if th.Len() != 10 {
		t.Fatalf("Len = %d, want 10", th.Len())
	}
	// A minute later every bucket is full again: the next new key sweeps.
	th.AllowAt("new", t0.Add(time.Minute))
	if th.Len() != 1 {
		t.Errorf("Len = %d after sweep, want 1", th.Len())
	}
}

// TestThrottle_AllowAt_FloodKeepsSpentBucket: a flood of keys each allowed
// once does not make the Throttle forget a key that has spent its bucket,
// because eviction drops the bucket that will be full soonest.
func TestThrottle_AllowAt_FloodKeepsSpentBucket(t *testing.T) {
	th := limiter.NewThrottle(limiter.ThrottleOptions{PerPeriod: 20, MaxKeys: 1000})
	for range 20 {
		th.AllowAt("spent", t0)
	}
	for i := range 100000 {
		at := t0.Add(time.Duration(i) * time.Microsecond) // the flood is newer
		th.AllowAt(strconv.Itoa(i), at)
		if i%1000 != 0 {
			continue
		}
		if ok, _ := th.AllowAt("spent", at); ok {
			t.Fatalf("spent key admitted after %d flood keys", i+1)
		}
	}
	if n := th.Len(); n > 1000 {
		t.Errorf("Len = %d, want <= 1000", n)
	}
}

func TestThrottle_Len_BoundedUnderFlood(t *testing.T) {
	const keys, maxKeys = 100000, 10000
	th := limiter.NewThrottle(limiter.ThrottleOptions{PerPeriod: 20, MaxKeys: maxKeys})
	for i := range keys {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		if ok, _ := th.AllowAt(strconv.Itoa(i), at); !ok {
			t.Fatalf("new key %d refused", i)
		}
		if n := th.Len(); n > maxKeys {
			t.Fatalf("Len = %d after %d keys, want <= %d", n, i+1, maxKeys)
		}
	}
}

// liveHeap returns the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// heapGrowth returns how much the live heap grows while fill runs on a value
// that build returns, kept alive until measured.
func heapGrowth[T any](build func() *T, fill func(*T)) int64 {
	before := liveHeap()
	v := build()
	fill(v)
	after := liveHeap()
	runtime.KeepAlive(v)
	return int64(after) - int64(before)
}

// checkBoundedHeap compares the heap growth of 100,000 distinct keys with
// MaxKeys 10,000 against the same keys with room for all of them.
func checkBoundedHeap[T any](t *testing.T, build func(maxKeys int) *T, use func(v *T, key string, now time.Time)) {
	t.Helper()
	const keys = 100000
	fill := func(v *T) {
		for i := range keys {
			use(v, "198.51.100."+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Millisecond))
		}
	}
	all := heapGrowth(func() *T { return build(keys) }, fill)
	bounded := heapGrowth(func() *T { return build(keys / 10) }, fill)
	t.Logf("heap growth: %d keys held: %d B, MaxKeys %d: %d B", keys, all, keys/10, bounded)
	if bounded*4 > all {
		t.Errorf("bounded heap growth %d B is over a quarter of the unbounded %d B", bounded, all)
	}
}

func TestThrottle_HeapBoundedUnderFlood(t *testing.T) {
	checkBoundedHeap(t,
		func(maxKeys int) *limiter.Throttle {
			return limiter.NewThrottle(limiter.ThrottleOptions{PerPeriod: 20, MaxKeys: maxKeys})
		},
		func(th *limiter.Throttle, key string, now time.Time) { th.AllowAt(key, now) })
}

func TestThrottle_Concurrent(t *testing.T) {
	th := limiter.NewThrottle(limiter.ThrottleOptions{PerPeriod: 50, MaxKeys: 64})
	var wg sync.WaitGroup
	admitted := make([]int, 8)
	for g := range admitted {
		wg.Go(func() {
			for i := range 2000 {
				at := t0.Add(time.Duration(i) * time.Microsecond)
				if ok, _ := th.AllowAt("shared", at); ok {
					admitted[g]++
				}
				th.AllowAt(fmt.Sprint("g", g, "-", i%200), at)
				if n := th.Len(); n > 64 {
					t.Errorf("Len = %d, want <= 64", n)
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range admitted {
		total += n
	}
	// 2ms of refill at 50/min adds nothing: the shared key gets its 50,
	// unless its state was evicted (it is the most spent key, so it should not be).
	if total != 50 {
		t.Errorf("shared key admitted %d times, want 50", total)
	}
}

func ExampleThrottle_AllowAt() {
	// 20 login attempts per minute per client address.
	th := limiter.NewThrottle(limiter.ThrottleOptions{PerPeriod: 20, Period: time.Minute})
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	for range 20 {
		th.AllowAt("203.0.113.7", now)
	}
	fmt.Println(th.AllowAt("203.0.113.7", now))
	fmt.Println(th.AllowAt("203.0.113.7", now.Add(3*time.Second)))
	fmt.Println(th.AllowAt("198.51.100.1", now))
	// Output:
	// false 3s
	// true 0s
	// true 0s
}

// floodKeys returns n distinct client-address-like keys.
func floodKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	return keys
}

func BenchmarkThrottleAllow(b *testing.B) {
	b.Run("one key", func(b *testing.B) {
		th := limiter.NewThrottle(limiter.ThrottleOptions{PerPeriod: 1 << 30})
		b.ReportAllocs()
		for b.Loop() {
			th.AllowAt("203.0.113.7", t0)
		}
	})
	b.Run("flood", func(b *testing.B) {
		// Distinct keys cycling through 8 times MaxKeys: almost every call
		// inserts a new key into a full map.
		keys := floodKeys(1 << 17)
		th := limiter.NewThrottle(limiter.ThrottleOptions{PerPeriod: 20, MaxKeys: 1 << 14})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			th.AllowAt(keys[i&(len(keys)-1)], t0.Add(time.Duration(i)*time.Microsecond))
			i++
		}
	})
}
