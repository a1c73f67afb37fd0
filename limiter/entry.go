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

// keyInline is the longest key an entry holds itself; a longer one is kept
// in its shard's long map. keygate's lineage ids are 24 bytes.
const keyInline = 24

// longKey is the klen of an entry whose key is in its shard's long map.
const longKey = 0xff

// entry is the state of one key. A server holds one per active key, so
// it is packed and holds no Go pointer: entries live in blocks the GC does
// not scan (see internal/offheap), reached through their shard by slot number. Times
// are offsets from the Limiter's epoch (see Limiter.offset), the bucket is
// inline, and the rarely used list of rolled-over days is in the shard.
//
// An entry's slot is reused once Evict has dropped it. Everything that
// reads or writes an entry holds its shard's mu for reading, and Evict
// holds it for writing, so no one can hold a slot across its reuse.
type entry struct {
	// mu guards every field below but klen and key. Lock order: the shard's
	// mu, then mu, then the shard's dmu.
	mu sync.Mutex
	// klen is the length of key, or longKey. klen and key are written only
	// with the shard's mu held for writing.
	klen uint8
	// dirty is set when count changed since it was last drained.
	dirty bool
	// queued is set while the entry is on its shard's dirty list or in a list
	// a Drain is walking. Invariant: dirty or rolled implies queued.
	queued bool
	// rolled is set while the shard's pending map holds earlier days rolled
	// over while dirty.
	rolled bool
	// key is the key, if klen <= keyInline.
	key [keyInline]byte
	// bucket is the minute bucket, configured on first use.
	bucket minuteBucket
	// day is the current day (days since the Unix epoch, UTC); it never
	// decreases.
	day int64
	// count is the number of admitted requests on day, Load's seed included.
	count int64
	// lastUsed is the offset of the latest AllowAt or PeekAt.
	lastUsed int64
}

// reset makes e the fresh entry of a key (held by its shard) whose day
// holds count, used at offset at. It requires the shard's mu held for
// writing, so nothing else holds e.
func (e *entry) reset(key string, day, count, at int64) {
	e.klen = longKey
	if len(key) <= keyInline {
		e.klen = uint8(copy(e.key[:], key))
	}
	e.dirty, e.queued, e.rolled = false, false, false
	e.bucket = minuteBucket{}
	e.day, e.count, e.lastUsed = day, count, at
}

// prepareLocked rolls the day over if now is in a later day, applies lim to
// the bucket, and marks the entry used; at is now's offset. It requires
// e.mu held and slot to be e's slot in s.
func (e *entry) prepareLocked(s *shard, slot uint32, lim Limits, now time.Time, at int64) {
	e.rollLocked(s, slot, dayOf(now))
	e.bucket.configure(lim.PerMinute, at)
	e.lastUsed = max(e.lastUsed, at)
}

// rollLocked moves the entry to day if it is later than the current one,
// keeping an undrained count for Drain. It requires e.mu held and slot to
// be e's slot in s.
func (e *entry) rollLocked(s *shard, slot uint32, day int64) {
	if day <= e.day {
		return
	}
	if e.dirty {
		s.keepPending(slot, dayCount{day: e.day, count: e.count})
		e.rolled = true
	}
	e.day, e.count, e.dirty = day, 0, false
}

// admitLocked checks the day, then takes a token, and counts the request if
// both pass; it returns why it refused, or None. It requires e.mu held and
// slot to be e's slot in s.
func (e *entry) admitLocked(s *shard, slot uint32, lim Limits, at int64) Reason {
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
		s.enqueue(slot)
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
// requires e.mu held and slot to be e's slot in s.
func (e *entry) countOnLocked(s *shard, slot uint32, day int64) (int64, bool) {
	switch {
	case day == e.day:
		return e.count, true
	case day > e.day:
		return 0, true
	case !e.rolled:
		return 0, false
	}
	return s.pendingCount(slot, day)
}

// drainLocked hands f the undrained counts and marks the entry clean
// and off the dirty list. It requires e.mu held, by the Drain that detached
// the list holding e, and slot to be e's slot in s.
func (e *entry) drainLocked(s *shard, slot uint32, f func(Usage)) {
	if !e.rolled && !e.dirty {
		e.queued = false
		return
	}
	key := s.keyOf(slot, e)
	if e.rolled {
		for _, p := range s.takePending(slot) {
			f(Usage{Key: key, Day: dayStart(p.day), Count: p.count})
		}
		e.rolled = false
	}
	if e.dirty {
		f(Usage{Key: key, Day: dayStart(e.day), Count: e.count})
		e.dirty = false
	}
	e.queued = false
}

// evictableLocked reports whether the entry has nothing to drain and has not
// been used for at least ttl before offset at. It requires e.mu held, or
// the shard's mu held for writing.
func (e *entry) evictableLocked(at int64, ttl time.Duration) bool {
	return !e.queued && !e.dirty && !e.rolled && at-e.lastUsed >= int64(ttl)
}
