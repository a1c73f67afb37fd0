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
// # Memory
//
// A server holds one entry per active key, so entries are packed (88 bytes,
// the key inline when it is at most 24 bytes) and hold no Go pointer. They
// live in chunks of 512, and each shard's index from key to slot is an
// open-addressing table of 8-byte cells; on Linux and the BSDs both are
// mapped outside the Go heap (see internal/offheap), because the GC keeps about
// twice the live heap resident and these would be most of it. Under the
// race detector and elsewhere they come from the Go heap. Evict reuses the
// slots it frees, and once a shard holds under a quarter of its slots it
// moves its entries down and gives the emptied chunks back.
//
// # Locking
//
// The key map is split into 64 shards chosen by a seeded hash of the key.
// Each shard has a sync.RWMutex guarding its index and chunks, a sync.Mutex
// (dmu) guarding its dirty list, and each entry has a sync.Mutex guarding
// its bucket, counts and flags. The lock order is shard, then entry, then
// dmu. Every use of an entry holds its shard's lock for reading from
// finding the entry to unlocking it, and whatever drops, reuses or moves a
// slot (a new key, Evict) holds it for writing, so a slot never changes
// hands under anyone. The hot path takes the shard read lock and the entry
// lock, and dmu only when the entry first changes after a Drain. There is
// no global lock.
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
