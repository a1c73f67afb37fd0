package limiter

import "time"

// sampleSize is how many entries an eviction compares. Go map iteration
// starts at a random position, so the first sampleSize entries of a range are
// a cheap random sample.
const sampleSize = 16

// rebuildFactor sets how often a keyMap reallocates its map: after
// rebuildFactor*limit deletions. Go maps never release memory, and under
// steady insert/delete churn at a fixed size a Go 1.26 map still grows slowly
// (measured: 10,000 entries with sampled deletions went from 1.2 MB to
// 5.1 MB over 30 million replacements), so the map is copied afresh now and
// then. The copy costs O(limit) per rebuildFactor*limit deletions.
const rebuildFactor = 4

// keyMap is a map of per-key state bounded to limit entries, shared by
// [Throttle] and [Backoff]. It does no locking: every method requires the
// owner's mutex held.
//
// Making room for a new key when the map is full first sweeps away the
// entries for which idle reports true (they hold no information any more),
// then, if still full, evicts the entry with the earliest rank among a sample
// of sampleSize. The sweep walks the whole map, so it runs at most once per
// limit/4 insertions into a full map: a flood of new keys pays O(1) amortised
// per insertion, never O(limit).
type keyMap[V any] struct {
	m     map[string]V
	limit int // >= 1; len(m) <= limit always

	// idle reports whether v holds no information at now, so dropping it
	// changes no future answer.
	idle func(v V, now time.Time) bool
	// rank orders entries for eviction: the earliest goes first.
	rank func(v V) time.Time

	// untilSweep counts down the insertions into a full map before the next
	// sweep is allowed; 0 allows one.
	untilSweep int
	// deleted counts deletions since m was allocated.
	deleted int
}

// newKeyMap returns an empty keyMap holding at most limit (>= 1) entries.
func newKeyMap[V any](limit int, idle func(V, time.Time) bool, rank func(V) time.Time) keyMap[V] {
	return keyMap[V]{m: make(map[string]V), limit: limit, idle: idle, rank: rank}
}

// get returns key's state and whether it is present.
func (k *keyMap[V]) get(key string) (V, bool) {
	v, ok := k.m[key]
	return v, ok
}

// put stores v for key, making room first if key is new and the map is full.
func (k *keyMap[V]) put(key string, v V, now time.Time) {
	if _, ok := k.m[key]; !ok {
		k.makeRoom(now)
	}
	k.m[key] = v
}

// remove deletes key if present.
func (k *keyMap[V]) remove(key string) {
	if _, ok := k.m[key]; !ok {
		return
	}
	delete(k.m, key)
	k.deleted++
	k.maybeRebuild()
}

// makeRoom frees at least one slot if the map is full: by a sweep when one is
// due and frees something, else by evicting from a sample.
func (k *keyMap[V]) makeRoom(now time.Time) {
	if len(k.m) < k.limit {
		return
	}
	if k.untilSweep <= 0 {
		k.sweep(now)
		k.untilSweep = max(k.limit/4, 1)
		if len(k.m) < k.limit {
			return
		}
	}
	k.untilSweep--
	k.evictSample()
}

// sweep removes every entry that is idle at now.
func (k *keyMap[V]) sweep(now time.Time) {
	for key, v := range k.m {
		if k.idle(v, now) {
			delete(k.m, key)
			k.deleted++
		}
	}
	k.maybeRebuild() // not inside the loop: it replaces the map being ranged
}

// evictSample removes the entry of earliest rank among the first sampleSize
// entries of a map iteration. It requires the map non-empty.
func (k *keyMap[V]) evictSample() {
	var victim string
	var oldest time.Time
	n := 0
	for key, v := range k.m {
		if r := k.rank(v); n == 0 || r.Before(oldest) {
			victim, oldest = key, r
		}
		if n++; n == sampleSize {
			break
		}
	}
	k.remove(victim)
}

// maybeRebuild copies the entries into a freshly allocated map, releasing
// what the old one grew to, once rebuildFactor*limit deletions have happened
// since the last copy.
func (k *keyMap[V]) maybeRebuild() {
	if k.deleted < rebuildFactor*k.limit {
		return
	}
	m := make(map[string]V, len(k.m))
	for key, v := range k.m {
		m[key] = v
	}
	k.m, k.deleted = m, 0
}

// len returns the number of entries.
func (k *keyMap[V]) len() int {
	return len(k.m)
}
