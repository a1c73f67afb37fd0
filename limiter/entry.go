package limiter

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// dayCount is the final count of a past day not drained yet.
type dayCount struct {
	day   int64 // days since the Unix epoch, UTC
	count int64
}

// entry is the state of one key. A server holds one per active key, so
// its fields are packed: times are offsets from the Limiter's epoch (see
// Limiter.offset), the bucket is inline, and the rarely used list of
// rolled-over days is behind a pointer.
type entry struct {
	key string // immutable

	// mu guards every field below. Lock order: mu before the shard's mu.
	mu sync.Mutex
	// bucket is the minute bucket, configured on first use.
	bucket minuteBucket
	// day is the current day (days since the Unix epoch, UTC); it never
	// decreases.
	day int64
	// count is the number of admitted requests on day, Load's seed included.
	count int64
	// lastUsed is the offset of the latest AllowAt or PeekAt.
	lastUsed int64
	// pending holds earlier days rolled over while dirty, oldest first; nil
	// when there are none, as almost always.
	pending *[]dayCount
	// dirty is set when count changed since it was last drained.
	dirty bool
	// queued is set while the entry is on its shard's dirty list or in a list
	// a Drain is walking. Invariant: dirty or pending non-nil implies queued.
	queued bool
	// dead is set when Evict removed the entry from its shard's map; a
	// goroutine that locks a dead entry must look the key up again.
	dead bool
}

// newEntry returns an entry for key whose day holds count, used at offset at.
func newEntry(key string, day, count, at int64) *entry {
	return &entry{key: key, day: day, count: count, lastUsed: at}
}

// prepareLocked rolls the day over if now is in a later day, applies lim to
// the bucket, and marks the entry used; at is now's offset. It requires
// e.mu held.
func (e *entry) prepareLocked(lim Limits, now time.Time, at int64) {
	e.rollLocked(dayOf(now))
	e.bucket.configure(lim.PerMinute, at)
	e.lastUsed = max(e.lastUsed, at)
}

// rollLocked moves the entry to day if it is later than the current one,
// keeping an undrained count for Drain. It requires e.mu held.
func (e *entry) rollLocked(day int64) {
	if day <= e.day {
		return
	}
	if e.dirty {
		if e.pending == nil {
			e.pending = new([]dayCount)
		}
		*e.pending = append(*e.pending, dayCount{day: e.day, count: e.count})
	}
	e.day, e.count, e.dirty = day, 0, false
}

// admitLocked checks the day, then takes a token, and counts the request if
// both pass; it returns why it refused, or None. It requires e.mu held and
// s to be e's shard.
func (e *entry) admitLocked(s *shard, lim Limits, at int64) Reason {
	if e.count >= lim.PerDay {
		return Day
	}
	if !e.bucket.allow(at) {
		return Minute
	}
	e.count++
	e.dirty = true
	if !e.queued {
		e.queued = true
		s.enqueue(e)
	}
	return None
}

// checkLocked is admitLocked without consuming or counting anything. It
// requires e.mu held.
func (e *entry) checkLocked(lim Limits, at int64) Reason {
	if e.count >= lim.PerDay {
		return Day
	}
	if !passes(e.bucket.advance(at), perSecond(lim.PerMinute)) {
		return Minute
	}
	return None
}

// decisionLocked builds the Decision for reason r at now, whose offset is
// at. It requires e.mu held and the bucket configured for lim.
func (e *entry) decisionLocked(lim Limits, now time.Time, at int64, r Reason) Decision {
	limit := perSecond(lim.PerMinute)
	tokens := e.bucket.advance(at)
	d := Decision{
		Allowed:         r == None,
		Reason:          r,
		Limits:          lim,
		MinuteRemaining: wholeTokens(tokens),
		MinuteReset:     timeFor(float64(lim.PerMinute)-tokens, limit),
		DayRemaining:    max(lim.PerDay-e.count, 0),
		DayReset:        dayStart(dayOf(now) + 1).Sub(now),
	}
	switch r {
	case Minute:
		d.RetryAfter = e.untilTokenLocked(at, limit)
	case Day:
		// The bucket refills within a minute, so this is almost always
		// DayReset; near midnight an empty bucket can outlast the day.
		d.RetryAfter = max(d.DayReset, e.untilTokenLocked(at, limit))
	}
	return d
}

// untilTokenLocked returns how long after offset at the bucket will let one
// request through: 0 if it would then. It requires e.mu held.
func (e *entry) untilTokenLocked(at int64, limit rate.Limit) time.Duration {
	tokens := e.bucket.advance(at)
	if passes(tokens, limit) {
		return 0
	}
	d := timeFor(1-tokens, limit)
	// Floating-point rounding can leave the bucket a hair short at now+d;
	// step forward until the bucket's own arithmetic agrees.
	for step := time.Duration(1); !passes(e.bucket.advance(at+int64(d)), limit); step *= 2 {
		d += step
	}
	return d
}

// countOnLocked returns the count for day and whether the entry knows it. It
// requires e.mu held.
func (e *entry) countOnLocked(day int64) (int64, bool) {
	switch {
	case day == e.day:
		return e.count, true
	case day > e.day:
		return 0, true
	}
	if e.pending == nil {
		return 0, false
	}
	for _, p := range *e.pending {
		if p.day == day {
			return p.count, true
		}
	}
	return 0, false
}

// drainLocked appends the undrained counts to out and marks the entry clean
// and off the dirty list. It requires e.mu held, by the Drain that detached
// the list holding e.
func (e *entry) drainLocked(out []Usage) []Usage {
	if e.pending != nil {
		for _, p := range *e.pending {
			out = append(out, Usage{Key: e.key, Day: dayStart(p.day), Count: p.count})
		}
	}
	e.pending = nil
	if e.dirty {
		out = append(out, Usage{Key: e.key, Day: dayStart(e.day), Count: e.count})
		e.dirty = false
	}
	e.queued = false
	return out
}

// evictableLocked reports whether the entry has nothing to drain and has not
// been used for at least ttl before offset at. It requires e.mu held.
func (e *entry) evictableLocked(at int64, ttl time.Duration) bool {
	return !e.queued && !e.dirty && e.pending == nil && at-e.lastUsed >= int64(ttl)
}
