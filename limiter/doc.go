// Package limiter enforces keygate's per-key rate limits: a per-minute token
// bucket (with the arithmetic of golang.org/x/time/rate, kept inline in the
// key's entry) and a per-UTC-day counter, checked and committed together so
// that a request refused by either limit spends nothing.
//
// # Basics
//
// Keys are opaque strings (keygate passes a key lineage id). The caller passes
// the [Limits] on every call, so a tier change takes effect on the next call.
// Time is always a parameter ([Limiter.AllowAt], [Limiter.PeekAt]); the
// time.Now variants are shorthands. A key's day count is seeded from
// [Options].Load the first time the key is seen, and [Limiter.Drain] hands
// back every (key, day) count that changed so the caller can persist it.
// [Limiter.Evict] drops idle entries, so memory follows the active keys.
//
// # Locking
//
// The key map is split into 64 shards chosen by an FNV-1a hash of the key.
// Each shard has a sync.RWMutex guarding its map and its dirty list; each
// entry has a sync.Mutex guarding its bucket, counts and flags. The lock order
// is entry before shard: a goroutine holding a shard lock never waits for an
// entry lock (Evict only tries entry locks with TryLock and skips busy
// entries), so there is no cycle. The hot path takes a shard read lock to find
// the entry, releases it, then locks the entry; it takes the shard write lock
// only when the entry first changes after a Drain. There is no global lock.
//
// # Caveats
//
// Persist the result of Drain before calling Evict: an evicted key is loaded
// again through Options.Load on its next use, and a count not yet written would
// be read back stale. A flusher that runs Drain, writes, then Evict, in that
// order, is safe.
//
// The minute bucket lives only in memory: it starts full after a restart or
// after eviction (an entry is evicted only after at least a minute idle, by
// which time its bucket would be full anyway).
//
// Days are UTC calendar days. A time earlier than a key's current day (a clock
// stepping back across midnight) is counted in that current day: a key's day
// never moves backwards.
package limiter
