package limiter

import (
	"cmp"
	"sync"
	"time"
)

const (
	defaultBackoffFree = 5
	defaultBackoffBase = time.Second
	defaultBackoffMax  = 15 * time.Minute
)

// BackoffOptions configures a [Backoff]. The zero value is usable: five free
// failures, then 1s, 2s, 4s, ... up to 15 minutes, for at most 10,000 keys.
type BackoffOptions struct {
	// Free is the number of failures allowed before any delay. Zero means 5;
	// negative means 0 (the first failure already delays).
	Free int
	// Base is the delay imposed by failure Free+1; each further failure
	// doubles it. Zero or negative means one second.
	Base time.Duration
	// Max caps the delay, and is also how long a key must go without a
	// failure (once any block has ended) before it is forgotten. Zero or
	// negative means 15 minutes. A Max below Base makes every delay Max.
	Max time.Duration
	// MaxKeys is the most keys held at once. Zero or negative means 10,000.
	MaxKeys int
}

// Backoff counts failures per key and, past Free failures, refuses the key
// for a delay that doubles with each further failure, up to Max: with the
// defaults, failures 1 to 5 are free, failure 6 blocks the key for 1s,
// failure 7 for 2s, then 4s, 8s, ... 15m. keygate keys it by (client address,
// email) for logins: check with [Backoff.CheckAt] before verifying the
// password, call [Backoff.FailAt] on a wrong password and [Backoff.Reset] on
// success. A key whose block has ended and that has had no failure for Max is
// forgotten: its failures start again from zero. Since no block is longer
// than Max, a key that waits out a block of Max is forgotten as it ends.
// Create one with [NewBackoff]; the zero value is not usable. A
// Backoff is safe for concurrent use.
//
// Memory is bounded by MaxKeys. When a new key arrives and MaxKeys are held,
// the Backoff first drops the forgettable keys, at most once per MaxKeys/4
// such arrivals so that a flood costs O(1) amortised per key; if none can go,
// it forgets, among a random sample of 16 keys, the one whose block ends
// first, counting a key with no block as ending at its last failure. A key
// that keeps failing is thus blocked later than a flood of keys failing once,
// and outlives them (see the tests). Forgetting a key resets its failures;
// that gives an attacker nothing they could not get by using more addresses,
// and it never locks out a real user: forgetting only ever admits more.
type Backoff struct {
	free     int           // >= 0; immutable after NewBackoff
	base     time.Duration // > 0; immutable after NewBackoff
	maxDelay time.Duration // > 0; immutable after NewBackoff

	// mu guards keys and every record in it.
	mu   sync.Mutex
	keys keyMap[record]
}

// record is the state of one key.
type record struct {
	failures int       // failures since the key was last forgotten or reset, >= 1
	last     time.Time // latest failure
	until    time.Time // end of the current or latest block; zero if none yet
}

// NewBackoff returns an empty Backoff configured by o (see [BackoffOptions]
// for zero values). It is safe for concurrent use.
func NewBackoff(o BackoffOptions) *Backoff {
	b := &Backoff{
		free:     positiveOr(o.Free, defaultBackoffFree),
		base:     positiveOr(o.Base, defaultBackoffBase),
		maxDelay: positiveOr(o.Max, defaultBackoffMax),
	}
	if o.Free < 0 {
		b.free = 0
	}
	b.keys = newKeyMap(positiveOr(o.MaxKeys, defaultMaxKeys), b.forgettable, blockEnd)
	return b
}

// CheckAt returns how long key is still refused at now: 0 means go ahead.
// It records nothing. Safe for concurrent use.
func (b *Backoff) CheckAt(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.keys.get(key)
	if !ok {
		return 0
	}
	if b.forgettable(r, now) {
		b.keys.remove(key)
		return 0
	}
	return max(r.until.Sub(now), 0)
}

// FailAt records a failure for key at now and returns the delay it is now
// refused for, counted from now: 0 while the key has had at most Free
// failures, else the delay of this failure (Base doubled per failure past
// Free+1, at most Max), or the rest of an earlier block if that ends later. A
// key that was forgettable at now starts again from one failure. Safe for
// concurrent use.
func (b *Backoff) FailAt(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.keys.get(key)
	if !ok || b.forgettable(r, now) {
		r = record{}
	}
	r.failures = min(r.failures, b.free+64) + 1 // past free+64 the delay is Max anyway
	r.last = latest(r.last, now)
	if d := b.delay(r.failures); d > 0 {
		r.until = latest(r.until, now.Add(d))
	}
	b.keys.put(key, r, now)
	return max(r.until.Sub(now), 0)
}

// Reset forgets key, as after a successful login. Safe for concurrent use.
func (b *Backoff) Reset(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys.remove(key)
}

// Len returns the number of keys held, at most MaxKeys. Safe for concurrent
// use.
func (b *Backoff) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.keys.len()
}

// delay returns the delay imposed by a key's failures-th failure.
func (b *Backoff) delay(failures int) time.Duration {
	if failures <= b.free {
		return 0
	}
	d := b.base
	for range failures - b.free - 1 {
		if d > b.maxDelay/2 {
			return b.maxDelay // also keeps d*2 from overflowing
		}
		d *= 2
	}
	return min(d, b.maxDelay)
}

// forgettable reports whether r's block has ended and its last failure is at
// least Max before now, so r holds no information.
func (b *Backoff) forgettable(r record, now time.Time) bool {
	return !now.Before(r.until) && now.Sub(r.last) >= b.maxDelay
}

// blockEnd returns the end of r's block, or its last failure if later: the
// eviction rank.
func blockEnd(r record) time.Time {
	return latest(r.until, r.last)
}

// latest returns the later of a and b.
func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// positiveOr returns v if it is positive, else def.
func positiveOr[T cmp.Ordered](v, def T) T {
	var zero T
	if v > zero {
		return v
	}
	return def
}
