package limiter

import (
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/time/rate"
)

// TestMinuteBucketMatchesRate drives a minuteBucket and a rate.Limiter
// through the same random calls, as entry used rate.Limiter before, and
// requires identical answers and token counts, bit for bit: time moving
// on by nanoseconds to minutes, now and then stepping back, and the rate
// changing.
func TestMinuteBucketMatchesRate(t *testing.T) {
	rates := []int{1, 2, 3, 7, 60, 61, 1000, 1 << 30}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 42))
		epoch := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
		now := epoch.Add(time.Duration(rng.Int64N(int64(time.Hour))))
		var b minuteBucket
		var lim *rate.Limiter
		perMinute := rates[rng.IntN(len(rates))]
		for step := range 20000 {
			switch r := rng.IntN(100); {
			case r < 3:
				now = now.Add(-time.Duration(rng.Int64N(int64(2 * time.Second)))) // a step back
			case r < 6:
				now = now.Add(time.Duration(rng.Int64N(int64(2 * time.Minute))))
			case r < 50:
				now = now.Add(time.Duration(rng.Int64N(int64(100 * time.Millisecond))))
			default:
				now = now.Add(time.Duration(rng.Int64N(1000)))
			}
			if rng.IntN(200) == 0 {
				perMinute = rates[rng.IntN(len(rates))]
			}
			at := int64(now.Sub(epoch))
			// configure, as entry.applyLocked did with rate.Limiter
			if lim == nil {
				lim = rate.NewLimiter(perSecond(perMinute), perMinute)
			} else if lim.Burst() != perMinute {
				lim.SetLimitAt(now, perSecond(perMinute))
				lim.SetBurstAt(now, perMinute)
			}
			b.configure(perMinute, at)
			if got, want := b.advance(at), lim.TokensAt(now); got != want {
				t.Fatalf("seed %d step %d: tokens %v, rate.Limiter %v", seed, step, got, want)
			}
			if rng.IntN(4) > 0 {
				if got, want := b.allow(at), lim.AllowN(now, 1); got != want {
					t.Fatalf("seed %d step %d: allow %v, rate.Limiter %v", seed, step, got, want)
				}
			}
			// a probe ahead, as untilTokenLocked makes
			ahead := time.Duration(rng.Int64N(int64(time.Minute)))
			if got, want := b.advance(at+int64(ahead)), lim.TokensAt(now.Add(ahead)); got != want {
				t.Fatalf("seed %d step %d: tokens ahead %v, rate.Limiter %v", seed, step, got, want)
			}
		}
	}
}

// TestEntrySize guards the memory a server spends per active key in the
// limiter: the entry, with its bucket inline, packed, fits 88 bytes.
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n > 88 {
		t.Fatalf("entry is %d bytes, want at most 88", n)
	}
}

// TestFarApartTimes: times centuries apart (here the zero time, then now)
// fill the bucket as rate.Limiter's saturating time arithmetic did, rather
// than overflowing an offset into an empty bucket.
func TestFarApartTimes(t *testing.T) {
	l := New(Options{})
	lim := Limits{PerMinute: 2, PerDay: 100}
	for i, now := range []time.Time{{}, time.Now(), time.Now()} {
		if d, err := l.AllowAt("k", lim, now); err != nil || !d.Allowed {
			t.Fatalf("call %d: %+v, %v", i, d, err)
		}
	}
}
