package limiter

import (
	"fmt"
	"hash/maphash"
	"runtime"
	"time"

	"github.com/keygate/keygate/internal/offheap"
)

// Limits are the limits applied to one key on one call. The zero value is not
// meaningful: both fields must be at least 1, and values below 1 are treated
// as 1 (fail closed rather than unlimited).
type Limits struct {
	PerMinute int   // bucket size; refilled evenly over a minute (rate PerMinute/60 per second); must be >= 1
	PerDay    int64 // admitted requests per UTC calendar day; must be >= 1
}

// normalized returns l with every field raised to at least 1.
func (l Limits) normalized() Limits {
	l.PerMinute = max(l.PerMinute, 1)
	l.PerDay = max(l.PerDay, 1)
	return l
}

// Reason says which limit refused a request. The zero value, None, means the
// request was allowed.
type Reason uint8

const (
	None   Reason = iota // allowed
	Minute               // refused by the per-minute bucket
	Day                  // refused by the daily limit
)

// Decision is the outcome of [Limiter.AllowAt] or [Limiter.PeekAt] with the
// figures for the rate-limit headers. Durations are exact (not rounded to
// seconds); the caller rounds them up for headers.
type Decision struct {
	Allowed         bool
	Reason          Reason        // None when Allowed
	Limits          Limits        // the limits applied (after raising values below 1)
	MinuteRemaining int           // whole tokens left in the bucket after this decision (>= 0)
	MinuteReset     time.Duration // until the bucket is full again (0 when full)
	DayRemaining    int64         // requests left today after this decision (>= 0)
	DayReset        time.Duration // until the next UTC midnight

	// RetryAfter is set when refused only: the time until the next request
	// would pass. Minute: until one whole token. Day: until the next UTC
	// midnight (later only if the bucket would still be empty then). Zero
	// when allowed.
	RetryAfter time.Duration
}

// Usage is the absolute count of admitted requests for one key on one UTC day,
// as returned by [Limiter.Drain].
type Usage struct {
	Key   string
	Day   time.Time // UTC midnight of the day counted
	Count int64     // absolute count for that day
}

// Options configures a [Limiter]. The zero value is usable.
type Options struct {
	// IdleTTL is how long an entry must go unused, with nothing left to
	// drain, before Evict drops it. Zero means 10 minutes; values under one
	// minute are raised to one minute, because a bucket needs up to a minute
	// to refill and dropping it earlier would reset it.
	IdleTTL time.Duration

	// Load returns the count already recorded for key on day (UTC midnight).
	// It is called on a key's first use and on its first use after eviction,
	// without any limiter lock held, possibly concurrently for the same key.
	// Nil means every key starts at 0.
	Load func(key string, day time.Time) (int64, error)
}

const (
	defaultIdleTTL = 10 * time.Minute
	minIdleTTL     = time.Minute
)

// Limiter holds the per-key buckets and day counters. Create one with [New];
// the zero value is not usable. A Limiter is safe for concurrent use.
type Limiter struct {
	shards  [shardCount]shard
	seed    maphash.Seed                                   // immutable after New
	idleTTL time.Duration                                  // immutable after New
	load    func(key string, day time.Time) (int64, error) // immutable after New; never nil
	epoch   time.Time                                      // immutable after New; see offset
}

// New returns an empty Limiter configured by o. It is safe for concurrent use.
func New(o Options) *Limiter {
	l := &Limiter{seed: maphash.MakeSeed(), idleTTL: o.IdleTTL, load: o.Load, epoch: time.Now()}
	if l.idleTTL == 0 {
		l.idleTTL = defaultIdleTTL
	}
	l.idleTTL = max(l.idleTTL, minIdleTTL)
	if l.load == nil {
		l.load = func(string, time.Time) (int64, error) { return 0, nil }
	}
	a := new(offheap.Arena)
	for i := range l.shards {
		l.shards[i].a = a
		l.shards[i].index = offheap.NewTable(a)
	}
	// The arena is apart from l, so it can outlive l and release its
	// mappings once l is unreachable.
	runtime.AddCleanup(l, (*offheap.Arena).ReleaseAll, a)
	return l
}

// AllowAt decides whether one request for key at time now is admitted under
// lim, and commits it if so: the day count is checked first (a refusal by the
// day spends no minute token), then one token is taken from the bucket, and
// only an admitted request is counted. Limits that differ from the previous
// call take effect now. The only error is one returned by Options.Load on the
// key's first use, wrapped; then nothing is recorded. Safe for concurrent use.
func (l *Limiter) AllowAt(key string, lim Limits, now time.Time) (Decision, error) {
	lim = lim.normalized()
	at := l.offset(now)
	s, slot, e, err := l.acquire(key, now, at)
	if err != nil {
		return Decision{}, err
	}
	defer release(s, e)
	e.prepareLocked(s, slot, lim, now, at)
	r := e.admitLocked(s, slot, lim, at)
	return e.decisionLocked(lim, now, at, r), nil
}

// Allow is AllowAt(key, lim, time.Now()). Safe for concurrent use.
func (l *Limiter) Allow(key string, lim Limits) (Decision, error) {
	return l.AllowAt(key, lim, time.Now())
}

// PeekAt reports the figures for key at time now under lim without consuming
// anything: Allowed says whether a request at now would pass, Reason and
// RetryAfter why not. It counts as a use for Evict, and loads the key (and
// may return Options.Load's error) like AllowAt. Safe for concurrent use.
func (l *Limiter) PeekAt(key string, lim Limits, now time.Time) (Decision, error) {
	lim = lim.normalized()
	at := l.offset(now)
	s, slot, e, err := l.acquire(key, now, at)
	if err != nil {
		return Decision{}, err
	}
	defer release(s, e)
	e.prepareLocked(s, slot, lim, now, at)
	return e.decisionLocked(lim, now, at, e.checkLocked(lim, at)), nil
}

// CountAt returns the count of admitted requests for key on the UTC day of now,
// and true, if the key is in memory; 0 and false otherwise (never seen, or
// evicted). A day after the key's current day reports 0 (nothing admitted
// yet). It never calls Load and does not count as a use. Safe for concurrent use.
func (l *Limiter) CountAt(key string, now time.Time) (int64, bool) {
	s, tag := l.shardFor(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	slot, ok := s.find(tag, key)
	if !ok {
		return 0, false
	}
	e := s.at(slot)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.countOnLocked(s, slot, dayOf(now))
}

// Drain returns every (key, day) whose count changed since the previous Drain,
// each with its absolute count, in no particular order; nil when nothing
// changed. A previous day that rolled over before it was drained is returned
// too. Its cost is proportional to the number of changed keys. Safe for
// concurrent use; concurrent Drains return disjoint results.
func (l *Limiter) Drain() []Usage {
	var out []Usage
	l.drainEach(func(n int) { out = make([]Usage, 0, n) }, func(u Usage) { out = append(out, u) }, nil)
	return out
}

// DrainEach is Drain handing each Usage to f rather than returning them
// all, so a caller that stores them elsewhere (keygate's flusher builds its
// storage batch) needs no second array beside its own: at a flush of
// 100,000 keys that array is 4.8 MB of heap, which the GC's heap goal then
// doubles. f runs with some of the Limiter's locks held: it must be quick
// and must not call the Limiter. between, if not nil, is called every few
// dozen usages with no lock held: a flusher paces itself there (see
// keygate's internal/pace). Safe for concurrent use; concurrent calls see
// disjoint usages.
func (l *Limiter) DrainEach(f func(Usage), between func()) {
	l.drainEach(func(int) {}, f, between)
}

// drainEach is DrainEach that first calls size, unless nothing changed,
// with the number of changed keys (there may be more usages: one per
// rolled-over day too).
func (l *Limiter) drainEach(size func(n int), f func(Usage), between func()) {
	if between == nil {
		between = func() {}
	}
	var lists [shardCount][]uint32
	n := 0
	for i := range l.shards {
		lists[i] = l.shards[i].takeDirty()
		n += len(lists[i])
	}
	if n == 0 {
		return
	}
	size(n)
	for i := range l.shards {
		l.shards[i].drain(lists[i], f, between)
		l.shards[i].recycle(lists[i])
	}
}

// Evict drops every entry unused for at least Options.IdleTTL before now that
// has nothing left to drain, and returns how many it dropped. Entries busy at
// that moment are skipped until the next call. Safe for concurrent use.
func (l *Limiter) Evict(now time.Time) int { return l.EvictPaced(now, nil) }

// EvictPaced is Evict that calls between, if not nil, after each of the
// Limiter's shards, with no lock held: a flusher paces itself there.
func (l *Limiter) EvictPaced(now time.Time, between func()) int {
	at, n := l.offset(now), 0
	for i := range l.shards {
		n += l.shards[i].evict(at, l.idleTTL)
		if between != nil {
			between()
		}
	}
	return n
}

// Len returns the number of keys held in memory. Safe for concurrent use.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		n += l.shards[i].len()
	}
	return n
}

// acquire returns key's entry, its slot and its shard, with the shard's mu
// held for reading and the entry's mu held (see release), loading and
// inserting the entry first if the key is not in memory; at is now's
// offset. It requires no lock held.
func (l *Limiter) acquire(key string, now time.Time, at int64) (*shard, uint32, *entry, error) {
	s, tag := l.shardFor(key)
	for {
		s.mu.RLock()
		if slot, ok := s.find(tag, key); ok {
			e := s.at(slot)
			e.mu.Lock()
			return s, slot, e, nil
		}
		gen := s.gen
		s.mu.RUnlock()
		if err := l.loadEntry(s, tag, key, gen, now, at); err != nil {
			return nil, 0, nil, err
		}
	}
}

// release unlocks what acquire locked.
func release(s *shard, e *entry) {
	e.mu.Unlock()
	s.mu.RUnlock()
}

// loadEntry calls Load outside every lock, then inserts the new entry unless
// another goroutine inserted one first, or the shard evicted something
// since gen was read (the count loaded may then predate counts drained and
// evicted meanwhile); the caller looks the key up again either way.
func (l *Limiter) loadEntry(s *shard, tag uint32, key string, gen uint64, now time.Time, at int64) error {
	day := dayOf(now)
	count, err := l.load(key, dayStart(day))
	if err != nil {
		return fmt.Errorf("limiter: load %q: %w", key, err)
	}
	s.insert(tag, key, gen, day, count, at)
	return nil
}

// offset is t as the entries keep it: nanoseconds since the Limiter was
// made. The difference of two offsets is what time.Time.Sub gives for the
// two times, measured on the monotonic clock when both times carry a
// reading of it (as time.Now's do) and on the wall clock when neither does
// (so a stepped wall clock neither refills nor empties a bucket, as with
// rate.Limiter). Offsets are clamped to about ±146 years so that the
// difference of two never overflows; a gap that long fills any bucket and
// outlasts any idle TTL all the same.
func (l *Limiter) offset(t time.Time) int64 {
	const bound = 1<<62 - 1
	return min(max(int64(t.Sub(l.epoch)), -bound), bound)
}

// shardFor returns the shard that holds key, and the tag under which its
// index files key: the two halves of a seeded hash, so that no one can
// choose keys that pile up in one shard or one run of the index.
func (l *Limiter) shardFor(key string) (*shard, uint32) {
	h := maphash.String(l.seed, key)
	return &l.shards[h%shardCount], uint32(h >> 32)
}
