package limiter_test

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
)

// backoffOp is a Backoff method in a step table.
type backoffOp int

const (
	fail  backoffOp = iota // FailAt
	check                  // CheckAt
	reset                  // Reset (want ignored)
)

// backoffStep is one call on key "k" at t0+at and the duration it must return.
type backoffStep struct {
	op   backoffOp
	at   time.Duration
	want time.Duration
}

// playBackoff plays steps on b's key "k" and reports every mismatch.
func playBackoff(t *testing.T, b *limiter.Backoff, steps []backoffStep) {
	t.Helper()
	for i, st := range steps {
		now := t0.Add(st.at)
		var got time.Duration
		switch st.op {
		case fail:
			got = b.FailAt("k", now)
		case check:
			got = b.CheckAt("k", now)
		case reset:
			b.Reset("k")
			continue
		}
		if got != st.want {
			t.Errorf("step %d (op %d at t0+%v) = %v, want %v", i, st.op, st.at, got, st.want)
		}
	}
}

// freeFails returns n failures at at that impose no delay.
func freeFails(at time.Duration, n int) []backoffStep {
	steps := make([]backoffStep, n)
	for i := range steps {
		steps[i] = backoffStep{fail, at, 0}
	}
	return steps
}

// doublingFails returns failures, each made as the previous block ends,
// starting at at with delay first and doubling up to max.
func doublingFails(at, first, max time.Duration, n int) []backoffStep {
	var steps []backoffStep
	d := first
	for range n {
		steps = append(steps, backoffStep{check, at, 0}, backoffStep{fail, at, d})
		at += d
		d = min(2*d, max)
	}
	return steps
}

func TestBackoff_FailAt(t *testing.T) {
	const m = 15 * time.Minute
	tests := []struct {
		name  string
		opts  limiter.BackoffOptions
		steps []backoffStep
	}{
		{
			name: "defaults: 5 free, then 1s doubling to 15m",
			steps: slices.Concat(
				freeFails(0, 5),
				// Failures 6 to 16, each as the previous block ends: 1s, 2s,
				// ... 512s, then 1024s capped to 15m, made at 1023s.
				doublingFails(0, time.Second, m, 11),
				[]backoffStep{
					{check, 1023*time.Second + m - 1, 1},
					// Failing 1ns before the end: still remembered, still Max.
					{fail, 1023*time.Second + m - 1, m},
					// Waiting out a block of Max is Max without a failure:
					// the key is forgotten and starts again.
					{check, 1023*time.Second + 2*m - 1, 0},
					{fail, 1023*time.Second + 2*m - 1, 0},
				},
			),
		},
		{
			name: "check during and after a block",
			opts: limiter.BackoffOptions{Free: 2, Base: 10 * time.Second},
			steps: append(freeFails(0, 2),
				backoffStep{check, 0, 0},
				backoffStep{fail, time.Second, 10 * time.Second},
				backoffStep{check, time.Second, 10 * time.Second},
				backoffStep{check, 7 * time.Second, 4 * time.Second},
				backoffStep{check, 11*time.Second - 1, 1},
				backoffStep{check, 11 * time.Second, 0},
				backoffStep{check, time.Hour, 0},
			),
		},
		{
			name: "failing while blocked blocks longer from now",
			opts: limiter.BackoffOptions{Free: 1, Base: 10 * time.Second},
			steps: []backoffStep{
				{fail, 0, 0},
				{fail, 0, 10 * time.Second},
				{fail, 5 * time.Second, 20 * time.Second},
				{check, 6 * time.Second, 19 * time.Second},
			},
		},
		{
			name: "reset clears failures",
			opts: limiter.BackoffOptions{Free: 2},
			steps: append(freeFails(0, 2),
				backoffStep{fail, 0, time.Second},
				backoffStep{reset, 0, 0},
				backoffStep{check, 0, 0},
				backoffStep{fail, 0, 0},
				backoffStep{fail, 0, 0},
				backoffStep{fail, 0, time.Second},
			),
		},
		{
			name: "forgotten after Max without failure, not a nanosecond before",
			opts: limiter.BackoffOptions{Free: 1, Max: time.Minute},
			steps: []backoffStep{
				{fail, 0, 0},
				{fail, 0, time.Second},
				{fail, time.Minute - 1, 2 * time.Second}, // remembered: 3rd failure
				{fail, 2*time.Minute - 1, 0},             // forgotten: 1st failure again
				{fail, 2*time.Minute - 1, time.Second},
			},
		},
		{
			name: "a block of Max ends as the key is forgotten",
			opts: limiter.BackoffOptions{Free: -1, Base: time.Minute, Max: time.Minute},
			steps: []backoffStep{
				{fail, 0, time.Minute},
				{fail, 30 * time.Second, time.Minute},
				{check, time.Minute, 30 * time.Second},
				{check, 90 * time.Second, 0},
			},
		},
		{
			name: "negative free: the first failure delays",
			opts: limiter.BackoffOptions{Free: -1, Base: 2 * time.Second},
			steps: []backoffStep{
				{fail, 0, 2 * time.Second},
				{fail, 2 * time.Second, 4 * time.Second},
			},
		},
		{
			name: "base above max: every delay is max",
			opts: limiter.BackoffOptions{Free: 1, Base: time.Hour, Max: time.Minute},
			steps: []backoffStep{
				{fail, 0, 0},
				{fail, 0, time.Minute},
				{fail, 30 * time.Second, time.Minute},
			},
		},
		{
			name: "odd max is reached exactly",
			opts: limiter.BackoffOptions{Free: 0, Base: time.Second, Max: 3*time.Second + 1},
			steps: append(freeFails(0, 5),
				doublingFails(0, time.Second, 3*time.Second+1, 3)...),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			playBackoff(t, limiter.NewBackoff(tc.opts), tc.steps)
		})
	}
}

func TestBackoff_FailAt_ManyFailuresStayAtMax(t *testing.T) {
	b := limiter.NewBackoff(limiter.BackoffOptions{Free: 1, Base: time.Nanosecond, Max: time.Hour})
	var d time.Duration
	for range 10000 {
		d = b.FailAt("k", t0)
	}
	if d != time.Hour {
		t.Errorf("delay after 10000 failures = %v, want 1h", d)
	}
}

func TestBackoff_CheckAt_ForgetsIdleKey(t *testing.T) {
	b := limiter.NewBackoff(limiter.BackoffOptions{Max: time.Minute})
	b.FailAt("k", t0)
	if b.CheckAt("k", t0.Add(time.Minute-1)); b.Len() != 1 {
		t.Fatalf("Len = %d before Max, want 1", b.Len())
	}
	if b.CheckAt("k", t0.Add(time.Minute)); b.Len() != 0 {
		t.Errorf("Len = %d after Max idle, want 0", b.Len())
	}
}

func TestBackoff_FailAt_SweepsForgettableKeys(t *testing.T) {
	b := limiter.NewBackoff(limiter.BackoffOptions{Max: time.Minute, MaxKeys: 10})
	for i := range 10 {
		b.FailAt(strconv.Itoa(i), t0)
	}
	b.FailAt("new", t0.Add(time.Minute))
	if b.Len() != 1 {
		t.Errorf("Len = %d after sweep, want 1", b.Len())
	}
}

func TestBackoff_Len_BoundedUnderFlood(t *testing.T) {
	const keys, maxKeys = 100000, 10000
	b := limiter.NewBackoff(limiter.BackoffOptions{MaxKeys: maxKeys})
	for i := range keys {
		b.FailAt(strconv.Itoa(i), t0.Add(time.Duration(i)*time.Millisecond))
		if n := b.Len(); n > maxKeys {
			t.Fatalf("Len = %d after %d keys, want <= %d", n, i+1, maxKeys)
		}
	}
}

func TestBackoff_HeapBoundedUnderFlood(t *testing.T) {
	checkBoundedHeap(t,
		func(maxKeys int) *limiter.Backoff {
			return limiter.NewBackoff(limiter.BackoffOptions{MaxKeys: maxKeys})
		},
		func(b *limiter.Backoff, key string, now time.Time) { b.FailAt(key, now) })
}

// TestBackoff_FailAt_BlockedKeySurvivesFlood answers the spec's question: at
// MaxKeys 1000, a key under backoff stays blocked, with its failure count
// intact, while 100,000 other keys fail once each, even though the flood is
// more recent than the key's last failure. Eviction drops the sampled key
// whose block ends first, and a flood key's "block" ends at its only failure.
func TestBackoff_FailAt_BlockedKeySurvivesFlood(t *testing.T) {
	const flood = 100000
	b := limiter.NewBackoff(limiter.BackoffOptions{Free: 5, Base: time.Second, Max: 15 * time.Minute, MaxKeys: 1000})
	var d time.Duration
	for range 12 { // 5 free, then 1s ... 64s
		d = b.FailAt("victim", t0)
	}
	if d != 64*time.Second {
		t.Fatalf("victim delay = %v, want 64s", d)
	}
	for i := range flood {
		now := t0.Add(time.Duration(i) * 500 * time.Microsecond) // 50s in all
		b.FailAt(strconv.Itoa(i), now)
		if i%1000 == 0 && b.CheckAt("victim", now) <= 0 {
			t.Fatalf("victim unblocked after %d flood keys", i+1)
		}
	}
	// Still remembered: the 13th failure doubles to 128s.
	if d := b.FailAt("victim", t0.Add(64*time.Second)); d != 128*time.Second {
		t.Errorf("victim delay after flood = %v, want 128s (state forgotten?)", d)
	}
}

// TestBackoff_FailAt_RecentKeySurvivesFlood: a key with no block yet is
// ranked by its last failure, so while it keeps failing among a flood it stays
// among the most recently touched and keeps its count.
func TestBackoff_FailAt_RecentKeySurvivesFlood(t *testing.T) {
	b := limiter.NewBackoff(limiter.BackoffOptions{Free: 200, MaxKeys: 1000})
	for i := range 20000 {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		if i%100 == 0 {
			if d := b.FailAt("active", now); d != 0 {
				t.Fatalf("free failure %d delayed %v", i/100+1, d)
			}
		}
		b.FailAt(strconv.Itoa(i), now)
	}
	if d := b.FailAt("active", t0.Add(20*time.Second)); d != time.Second {
		t.Errorf("failure 201 delay = %v, want 1s (state forgotten?)", d)
	}
}

// TestBackoff_FailAt_StaleKeyForgottenByFlood documents the limit of bounded
// memory: a key with free failures only, idle while 100,000 newer keys fail,
// is the oldest in the map and is evicted, so its count starts again. An
// attacker gets the same from using more addresses.
func TestBackoff_FailAt_StaleKeyForgottenByFlood(t *testing.T) {
	b := limiter.NewBackoff(limiter.BackoffOptions{Free: 5, MaxKeys: 1000})
	for range 4 {
		b.FailAt("stale", t0)
	}
	for i := range 100000 {
		b.FailAt(strconv.Itoa(i), t0.Add(time.Duration(i+1)*time.Microsecond))
	}
	now := t0.Add(time.Second)
	b.FailAt("stale", now)
	if d := b.FailAt("stale", now); d != 0 {
		t.Errorf("6th failure delay = %v, want 0: the stale count was expected to be evicted", d)
	}
}

func TestBackoff_Concurrent(t *testing.T) {
	b := limiter.NewBackoff(limiter.BackoffOptions{Free: 3, MaxKeys: 64})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				now := t0.Add(time.Duration(i) * time.Millisecond)
				key := fmt.Sprint("g", g, "-", i%100)
				b.CheckAt(key, now)
				b.FailAt(key, now)
				b.FailAt("shared", now)
				if i%50 == 0 {
					b.Reset(key)
				}
				if n := b.Len(); n > 64 {
					t.Errorf("Len = %d, want <= 64", n)
				}
			}
		})
	}
	wg.Wait()
}

func ExampleBackoff() {
	// A login handler keyed by (client address, email).
	b := limiter.NewBackoff(limiter.BackoffOptions{Free: 2, Base: time.Second})
	key := "203.0.113.7 alice@example.com"
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	for range 4 {
		if wait := b.CheckAt(key, now); wait > 0 {
			fmt.Println("refused, retry after", wait)
			continue
		}
		// ... the password was wrong:
		fmt.Println("failed, delay", b.FailAt(key, now))
	}
	now = now.Add(time.Second)
	fmt.Println("after 1s, wait", b.CheckAt(key, now))
	b.Reset(key) // the password was right
	fmt.Println("keys held:", b.Len())
	// Output:
	// failed, delay 0s
	// failed, delay 0s
	// failed, delay 1s
	// refused, retry after 1s
	// after 1s, wait 0s
	// keys held: 0
}

func BenchmarkBackoffFlood(b *testing.B) {
	// Distinct keys cycling through 8 times MaxKeys, each failing once: almost
	// every call inserts a new key into a full map.
	keys := floodKeys(1 << 17)
	bo := limiter.NewBackoff(limiter.BackoffOptions{MaxKeys: 1 << 14})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		bo.FailAt(keys[i&(len(keys)-1)], t0.Add(time.Duration(i)*time.Microsecond))
		i++
	}
}
