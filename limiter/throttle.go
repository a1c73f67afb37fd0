package limiter

import (
	"math"
	"sync"
	"time"
)

const (
	defaultThrottlePeriod = time.Minute
	defaultMaxKeys        = 10000
)

// ThrottleOptions configures a [Throttle]. The zero value is usable: one event
// per minute per key, for at most 10,000 keys.
type ThrottleOptions struct {
	// PerPeriod is the bucket size: the events a key may make at once, and
	// per Period on average. Values below 1 mean 1 (fail closed). Values
	// above math.MaxInt64/Period-in-nanoseconds - 1 (about 150 million for a
	// minute, 100,000 for a day) are lowered to that, to keep the arithmetic
	// exact in int64.
	PerPeriod int
	// Period is the time a bucket takes to refill from empty to full; one
	// token comes back every Period/PerPeriod. Zero or negative means one
	// minute.
	Period time.Duration
	// MaxKeys is the most keys held at once. Zero or negative means 10,000.
	MaxKeys int
}

// Throttle admits at most PerPeriod events per key per Period: each key has a
// token bucket of PerPeriod tokens refilled evenly over Period (for example 20
// per minute: one token every 3 seconds). keygate uses it to throttle login
// and sign-up attempts per client address. Create one with [NewThrottle]; the
// zero value is not usable. A Throttle is safe for concurrent use.
//
// Memory is bounded by MaxKeys. When a new key arrives and MaxKeys are held,
// the Throttle first drops the keys whose bucket is full again (they hold no
// information), at most once per MaxKeys/4 such arrivals so that a flood
// costs O(1) amortised per key; if none can go, it forgets the key whose
// bucket would be full soonest among a random sample of 16. Under a flood of
// distinct keys some real state is therefore forgotten, so a forgotten key
// starts again with a full bucket. That gives an attacker nothing they could
// not get by using more addresses, and it never refuses anyone: forgetting
// only ever admits more. Keys that have spent most of their bucket are
// forgotten last.
type Throttle struct {
	// Immutable after NewThrottle. Times are counted in "units" of 1/per
	// nanosecond, so that one token, Period/PerPeriod long, is exactly
	// period units and no division rounds.
	per      int64 // PerPeriod, >= 1
	period   int64 // Period in nanoseconds, >= 1
	capacity int64 // per*period: the debt of an empty bucket

	// mu guards keys and every bucket in it.
	mu   sync.Mutex
	keys keyMap[bucket]
}

// bucket is the state of one key. Its invariant is 0 <= debt <= capacity.
type bucket struct {
	// at is the time debt was measured at: the latest time the key was used.
	at time.Time
	// debt is the refill the bucket still needs at at to be full, in units
	// (1/per ns): each event adds period, each elapsed ns pays off per.
	debt int64
}

// NewThrottle returns an empty Throttle configured by o (see
// [ThrottleOptions] for zero values). It is safe for concurrent use.
func NewThrottle(o ThrottleOptions) *Throttle {
	p := int64(positiveOr(o.Period, defaultThrottlePeriod))
	n := min(max(int64(o.PerPeriod), 1), math.MaxInt64/p-1)
	t := &Throttle{per: n, period: p, capacity: n * p}
	t.keys = newKeyMap(positiveOr(o.MaxKeys, defaultMaxKeys), t.full, t.fullAt)
	return t
}

// AllowAt reports whether one event for key at now is admitted, and takes a
// token if so. When refused it takes nothing and returns retryAfter > 0, the
// time from now until a token is back; when admitted retryAfter is 0. A now
// earlier than the key's latest use is treated as that latest use. Safe for
// concurrent use.
func (t *Throttle) AllowAt(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, _ := t.keys.get(key) // a new key: zero debt, a full bucket
	b = t.settle(b, now)
	if b.debt > t.capacity-t.period {
		return false, t.untilToken(b, now)
	}
	b.debt += t.period
	t.keys.put(key, b, now)
	return true, 0
}

// Len returns the number of keys held, at most MaxKeys. Safe for concurrent
// use.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.keys.len()
}

// settle returns b measured at the later of b.at and now.
func (t *Throttle) settle(b bucket, now time.Time) bucket {
	if !now.After(b.at) {
		return b
	}
	return bucket{at: now, debt: t.debtAt(b, now)}
}

// debtAt returns b's debt at now (b's own if now is not after b.at).
func (t *Throttle) debtAt(b bucket, now time.Time) int64 {
	elapsed := int64(now.Sub(b.at))
	switch {
	case elapsed <= 0:
		return b.debt
	case elapsed >= t.period: // a full Period refills any bucket
		return 0
	}
	return max(b.debt-elapsed*t.per, 0) // elapsed*per < capacity: no overflow
}

// untilToken returns the time from now until b, settled at or after now, has
// one token: until its debt is down to capacity-period.
func (t *Throttle) untilToken(b bucket, now time.Time) time.Duration {
	excess := b.debt - (t.capacity - t.period)
	return b.at.Sub(now) + time.Duration(ceilDiv(excess, t.per))
}

// full reports whether b's bucket is full at now, so b holds no information.
func (t *Throttle) full(b bucket, now time.Time) bool {
	return t.debtAt(b, now) == 0
}

// fullAt returns the time b's bucket will be full again: the eviction rank.
func (t *Throttle) fullAt(b bucket) time.Time {
	return b.at.Add(time.Duration(ceilDiv(b.debt, t.per)))
}

// ceilDiv returns a/b rounded up, for a >= 0 and b > 0.
func ceilDiv(a, b int64) int64 {
	return a/b + min(a%b, 1)
}
