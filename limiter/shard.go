package limiter

import (
	"sync"
	"time"
	"unsafe"

	"github.com/keygate/keygate/internal/offheap"
)

// shardCount is the number of shards of the key map; a power of two so the
// modulo is a mask.
const shardCount = 64

// chunkSlots is the number of entries in a chunk, the unit in which a
// shard takes memory for entries and gives it back.
const chunkSlots = 512

// minIndex is the smallest index a shard keeps.
const minIndex = 64

// chunk is a block of entries, addressed by slot number through the shard.
type chunk [chunkSlots]entry

// shard is one slice of the key map: its entries, in chunks, and an index
// from key to slot.
//
// Locking: mu is held for reading by every use of an entry, from finding
// it to unlocking it, and for writing by whatever adds, drops or moves an
// entry. So a slot is never reused or moved while anyone holds it, and a
// lookup needs no recheck. Lock order: mu, then an entry's mu, then dmu.
type shard struct {
	a *offheap.Arena // where chunks and indexes come from; immutable

	// mu guards every field up to dmu, and the keys of the entries.
	mu sync.RWMutex
	// index maps keys to slots: the tag is the upper half of the key's
	// hash (see offheap.Table).
	index offheap.Table
	// n is the number of entries held.
	n int
	// chunks hold the entries; slot i is chunks[i/chunkSlots][i%chunkSlots].
	chunks    []*chunk
	chunkMems [][]byte // each chunk's block, to release it
	// next is the number of slots handed out: every slot below next is in
	// the index or in free.
	next uint32
	// free lists the slots below next held by no entry.
	free []uint32
	// long holds the keys longer than keyInline, by slot.
	long map[uint32]string
	// gen counts evictions, so that a load started before an eviction is
	// not inserted after it with a stale count.
	gen uint64

	// dmu guards dirty, spare and pending. It is taken with an entry's mu
	// held, and no lock is taken while it is held.
	dmu sync.Mutex
	// dirty lists the slots of the entries with queued set: each appears at
	// most once.
	dirty []uint32
	// spare is a drained dirty list kept for reuse, or nil.
	spare []uint32
	// pending holds, by slot, the earlier days of the entries with rolled
	// set, oldest first.
	pending map[uint32][]dayCount
}

// at returns the entry in slot. It requires mu held.
func (s *shard) at(slot uint32) *entry {
	return &s.chunks[slot/chunkSlots][slot%chunkSlots]
}

// find returns the slot of key, whose hash's upper half is tag, and whether
// it is held. It requires mu held.
func (s *shard) find(tag uint32, key string) (uint32, bool) {
	cells := s.index.Cells()
	if len(cells) == 0 {
		return 0, false
	}
	for i := s.index.Home(tag); ; i = s.index.Next(i) {
		v := cells[i]
		if v == 0 {
			return 0, false
		}
		if offheap.CellTag(v) == tag {
			if slot := offheap.CellSlot(v); s.keyIs(slot, key) {
				return slot, true
			}
		}
	}
}

// keyIs reports whether the entry in slot has key. It requires mu held.
func (s *shard) keyIs(slot uint32, key string) bool {
	e := s.at(slot)
	if e.klen == longKey {
		return s.long[slot] == key
	}
	return int(e.klen) == len(key) && string(e.key[:e.klen]) == key
}

// keyOf returns a copy of the key of e, in slot, that outlives the slot.
// It requires mu held.
func (s *shard) keyOf(slot uint32, e *entry) string {
	if e.klen == longKey {
		return s.long[slot]
	}
	return string(e.key[:e.klen])
}

// insert adds an entry for key, whose hash's upper half is tag, unless the
// key is already held or an eviction happened after gen was read (the
// caller then looks the key up again).
func (s *shard) insert(tag uint32, key string, gen uint64, day, count, at int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.find(tag, key); ok || s.gen != gen {
		return
	}
	if n := len(s.index.Cells()); (s.n+1)*4 > n*3 {
		s.index.Resize(max(2*n, minIndex))
	}
	slot := s.takeSlot()
	if len(key) > keyInline {
		if s.long == nil {
			s.long = make(map[uint32]string)
		}
		s.long[slot] = key
	}
	s.at(slot).reset(key, day, count, at)
	s.index.Place(tag, slot)
	s.n++
}

// takeSlot returns a slot held by no entry, adding a chunk if none is
// free. It requires mu held for writing.
func (s *shard) takeSlot() uint32 {
	if n := len(s.free); n > 0 {
		slot := s.free[n-1]
		s.free = s.free[:n-1]
		return slot
	}
	if s.next == uint32(len(s.chunks))*chunkSlots {
		mem := s.a.Block(int(unsafe.Sizeof(chunk{})))
		s.chunks = append(s.chunks, (*chunk)(unsafe.Pointer(&mem[0])))
		s.chunkMems = append(s.chunkMems, mem)
	}
	s.next++
	return s.next - 1
}

// enqueue appends slot to the dirty list. The caller holds its entry's mu
// and has just set queued, so the slot is not on the list yet.
func (s *shard) enqueue(slot uint32) {
	s.dmu.Lock()
	s.dirty = append(s.dirty, slot)
	s.dmu.Unlock()
}

// keepPending appends p to the earlier days of slot. The caller holds the
// slot's entry's mu.
func (s *shard) keepPending(slot uint32, p dayCount) {
	s.dmu.Lock()
	if s.pending == nil {
		s.pending = make(map[uint32][]dayCount)
	}
	s.pending[slot] = append(s.pending[slot], p)
	s.dmu.Unlock()
}

// pendingCount returns the count kept for slot on day, if any. The caller
// holds the slot's entry's mu.
func (s *shard) pendingCount(slot uint32, day int64) (int64, bool) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	for _, p := range s.pending[slot] {
		if p.day == day {
			return p.count, true
		}
	}
	return 0, false
}

// takePending removes and returns the earlier days of slot. The caller
// holds the slot's entry's mu.
func (s *shard) takePending(slot uint32) []dayCount {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	p := s.pending[slot]
	delete(s.pending, slot)
	return p
}

// drainBatch is how many entries a Drain walks per hold of a shard's mu,
// so that a key new to the shard never waits for a whole shard's drain.
const drainBatch = 64

// drain hands f the usage of every entry of list, a dirty list taken by
// takeDirty, and keeps list for reuse, calling between after each batch
// with no lock held. It requires no lock held. The slots of list stay
// valid without mu held throughout: an entry on it is queued, and Evict
// neither drops nor moves a queued entry.
func (s *shard) drain(list []uint32, f func(Usage), between func()) {
	for len(list) > 0 {
		batch := list[:min(len(list), drainBatch)]
		list = list[len(batch):]
		s.mu.RLock()
		for _, slot := range batch {
			e := s.at(slot)
			e.mu.Lock()
			e.drainLocked(s, slot, f)
			e.mu.Unlock()
		}
		s.mu.RUnlock()
		between()
	}
}

// takeDirty detaches the dirty list and starts a new one on the spare buffer.
func (s *shard) takeDirty() []uint32 {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	list := s.dirty
	s.dirty, s.spare = s.spare, nil
	return list
}

// recycle keeps a walked dirty list as the spare buffer.
func (s *shard) recycle(list []uint32) {
	if list == nil {
		return
	}
	s.dmu.Lock()
	s.spare = list[:0]
	s.dmu.Unlock()
}

// evict drops the entries idle for at least ttl before offset at with
// nothing to drain, and returns how many. Holding mu for writing, it needs
// no entry's lock: every user of an entry holds mu for reading.
func (s *shard) evict(at int64, ttl time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	cells := s.index.Cells()
	for i := 0; i < len(cells); {
		v := cells[i]
		if v == 0 || !s.at(offheap.CellSlot(v)).evictableLocked(at, ttl) {
			i++
			continue
		}
		slot := offheap.CellSlot(v)
		delete(s.long, slot)
		s.free = append(s.free, slot)
		s.n--
		n++
		// The cell may be refilled by one shifted back from after it
		// (looked at again: i does not move), or by one from the start
		// of the index past its end (looked at twice: harmless).
		s.index.Remove(uint32(i))
	}
	if n > 0 {
		s.gen++
		s.shrinkLocked()
	}
	return n
}

// len returns the number of entries.
func (s *shard) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}
