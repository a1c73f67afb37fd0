package limiter

import (
	"sync"
	"time"
)

// shardCount is the number of shards of the key map; a power of two so the
// modulo is a mask.
const shardCount = 64

// shrinkMin is the map size under which a shard never rebuilds its map.
const shrinkMin = 64

// shard is one slice of the key map.
//
// Lock order: an entry's mu may be held while acquiring shard.mu (to queue the
// entry on dirty), never the reverse, except that evict holds shard.mu while
// calling TryLock on entries, which never waits.
type shard struct {
	// mu guards m, gen, peak, dirty and spare.
	mu sync.RWMutex
	// m maps a key to its entry. Invariant: every entry in m has dead false;
	// an entry is marked dead (under both locks) as it is deleted.
	m map[string]*entry
	// gen counts evictions from m, so that a load started before an eviction
	// is not inserted after it with a stale count.
	gen uint64
	// peak is the largest len(m) since m was last allocated; evict rebuilds m
	// when it has shrunk well below peak, since Go maps never release memory.
	peak int
	// dirty lists the entries with queued set: each appears at most once.
	dirty []*entry
	// spare is a drained dirty list kept for reuse, or nil.
	spare []*entry
}

// lookup returns key's entry (nil if absent) and the eviction generation read
// with it.
func (s *shard) lookup(key string) (*entry, uint64) {
	s.mu.RLock()
	e, gen := s.m[key], s.gen
	s.mu.RUnlock()
	return e, gen
}

// get returns key's entry, or nil.
func (s *shard) get(key string) *entry {
	e, _ := s.lookup(key)
	return e
}

// insert adds e unless its key is already present, in which case it returns
// the present entry. It returns nil, inserting nothing, if an eviction
// happened after gen was read.
func (s *shard) insert(e *entry, gen uint64) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.m[e.key]; old != nil {
		return old
	}
	if s.gen != gen {
		return nil
	}
	s.m[e.key] = e
	s.peak = max(s.peak, len(s.m))
	return e
}

// enqueue appends e to the dirty list. The caller holds e.mu and has just set
// e.queued, so e is not on the list yet.
func (s *shard) enqueue(e *entry) {
	s.mu.Lock()
	s.dirty = append(s.dirty, e)
	s.mu.Unlock()
}

// drain appends to out the usage of every entry of list, a dirty list taken
// by takeDirty, and keeps list for reuse. It requires no lock held.
func (s *shard) drain(list []*entry, out []Usage) []Usage {
	for _, e := range list {
		e.mu.Lock()
		out = e.drainLocked(out)
		e.mu.Unlock()
	}
	s.recycle(list)
	return out
}

// takeDirty detaches the dirty list and starts a new one on the spare buffer.
func (s *shard) takeDirty() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.dirty
	s.dirty, s.spare = s.spare, nil
	return list
}

// recycle keeps a walked dirty list as the spare buffer, without its pointers.
func (s *shard) recycle(list []*entry) {
	if list == nil {
		return
	}
	clear(list)
	s.mu.Lock()
	s.spare = list[:0]
	s.mu.Unlock()
}

// evict drops the entries idle for at least ttl before offset at with
// nothing to drain, and returns how many. Entries whose lock is held are in
// use and skipped: TryLock keeps the lock order (entry before shard) free
// of cycles.
func (s *shard) evict(at int64, ttl time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for key, e := range s.m {
		if !e.mu.TryLock() {
			continue
		}
		if e.evictableLocked(at, ttl) {
			e.dead = true
			delete(s.m, key)
			n++
		}
		e.mu.Unlock()
	}
	if n > 0 {
		s.gen++
		s.shrinkLocked()
	}
	return n
}

// shrinkLocked reallocates m once it holds under a quarter of its peak, so
// that memory follows the active keys. It requires s.mu held for writing.
func (s *shard) shrinkLocked() {
	if s.peak <= shrinkMin || len(s.m)*4 >= s.peak {
		return
	}
	m := make(map[string]*entry, len(s.m))
	for k, e := range s.m {
		m[k] = e
	}
	s.m, s.peak = m, len(m)
}

// len returns the number of entries.
func (s *shard) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// fnv1a is the 32-bit FNV-1a hash of key, computed without allocating.
func fnv1a(key string) uint32 {
	const (
		offset = 2166136261
		prime  = 16777619
	)
	h := uint32(offset)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= prime
	}
	return h
}
