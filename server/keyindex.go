package server

import (
	"encoding/binary"
	"unsafe"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/internal/offheap"
)

// minKeyIndex is the smallest number of cells and of slots a key shard's
// index keeps.
const minKeyIndex = 64

// keyIndex maps key hashes to entries, for one shard of the key cache. It
// does no locking: the shard's mu guards it, held for writing by any
// method that changes it.
//
// Each key has a slot: entries[slot] is its entry, hashes[slot] its hash.
// The cells map hashes to slots by open addressing with linear probing:
// 0 is an empty cell, else tag<<32 | slot+1, where tag is 32 bits of the
// hash (uniform: it is SHA-256 output) and the cell is at tag's home
// (tag&(len-1)) or after it. There is a power-of-two count of cells, at
// most 3/4 full, so a probe always meets an empty cell; a probe compares
// tags, and reads a full hash only when its tag matches. The cells and
// hashes hold no Go pointer and live off the heap (see internal/offheap): after the
// entries themselves they are the bulk of the cache.
type keyIndex struct {
	mem     *offheap.Arena // where blocks come from; shared by the cache
	cells   []uint64
	cellMem []byte // cells' block, to release it
	hashes  []auth.KeyHash
	hashMem []byte // hashes' block, to release it
	entries []*keyEntry
	free    []uint32 // slots whose entry is nil
	n       int      // keys held
}

// tagOf is the 32 bits of h the cells file it under. The shard was chosen
// by h's first 8 bytes, so these are others.
func tagOf(h *auth.KeyHash) uint32 { return binary.LittleEndian.Uint32(h[8:12]) }

// find returns the cell holding h and whether there is one.
func (x *keyIndex) find(h *auth.KeyHash) (uint32, bool) {
	if len(x.cells) == 0 {
		return 0, false
	}
	tag, mask := tagOf(h), uint32(len(x.cells)-1)
	for i := tag & mask; ; i = (i + 1) & mask {
		v := x.cells[i]
		if v == 0 {
			return 0, false
		}
		if uint32(v>>32) == tag && x.hashes[uint32(v)-1] == *h {
			return i, true
		}
	}
}

// get returns the entry of h, or nil.
func (x *keyIndex) get(h *auth.KeyHash) *keyEntry {
	if i, ok := x.find(h); ok {
		return x.entryAt(int(i))
	}
	return nil
}

// entryAt returns the entry in cell i, or nil if the cell is empty.
func (x *keyIndex) entryAt(i int) *keyEntry {
	if v := x.cells[i]; v != 0 {
		return x.entries[uint32(v)-1]
	}
	return nil
}

// add stores e for h, which is not held.
func (x *keyIndex) add(h *auth.KeyHash, e *keyEntry) {
	if (x.n+1)*4 > len(x.cells)*3 {
		x.resize(max(2*len(x.cells), minKeyIndex))
	}
	var slot uint32
	if n := len(x.free); n > 0 {
		slot = x.free[n-1]
		x.free = x.free[:n-1]
		x.entries[slot] = e
	} else {
		slot = uint32(len(x.entries))
		x.entries = append(x.entries, e)
		if len(x.entries) > len(x.hashes) {
			x.moveHashes(max(2*len(x.hashes), minKeyIndex))
		}
	}
	x.hashes[slot] = *h
	x.place(tagOf(h), slot)
	x.n++
}

// removeAt drops the entry in cell i, which is in use. A cell after i may
// move into it (so a walk over the cells looks at i again), or one from
// the start of the cells past their end (looked at twice by such a walk:
// callers must not mind).
func (x *keyIndex) removeAt(i uint32) {
	slot := uint32(x.cells[i]) - 1
	x.entries[slot] = nil
	x.free = append(x.free, slot)
	x.n--
	x.unplace(i)
}

// place files slot under tag in the first empty cell from tag's home on.
func (x *keyIndex) place(tag, slot uint32) {
	mask := uint32(len(x.cells) - 1)
	i := tag & mask
	for x.cells[i] != 0 {
		i = (i + 1) & mask
	}
	x.cells[i] = uint64(tag)<<32 | uint64(slot+1)
}

// unplace empties cell i, shifting back the cells after it that would
// otherwise be cut off from their home.
func (x *keyIndex) unplace(i uint32) {
	mask := uint32(len(x.cells) - 1)
	for j := i; ; {
		x.cells[i] = 0
		for {
			j = (j + 1) & mask
			v := x.cells[j]
			if v == 0 {
				return
			}
			// The cell at j may fill the hole at i unless its home lies
			// cyclically in (i, j].
			if home := uint32(v>>32) & mask; (j-home)&mask >= (j-i)&mask {
				x.cells[i] = v
				i = j
				break
			}
		}
	}
}

// compact gives back memory once the index holds far fewer keys than it
// has room for: the cells are halved while under 1/8 full, and the slots
// renumbered once under a quarter of them are in use. It must not run
// during a walk over the cells.
func (x *keyIndex) compact() {
	n := len(x.cells)
	for n > minKeyIndex && x.n*8 < n {
		n /= 2
	}
	if n != len(x.cells) {
		x.resize(n)
	}
	if len(x.entries) > minKeyIndex && x.n*4 < len(x.entries) {
		x.renumber()
	}
}

// renumber moves the keys to slots 0 to n-1, in slices just big enough.
func (x *keyIndex) renumber() {
	oldHashes, oldMem := x.hashes, x.hashMem
	x.hashes, x.hashMem = nil, nil
	x.moveHashes(max(x.n, minKeyIndex))
	entries := make([]*keyEntry, 0, x.n)
	for i, v := range x.cells {
		if v != 0 {
			x.hashes[len(entries)] = oldHashes[uint32(v)-1]
			entries = append(entries, x.entries[uint32(v)-1])
			x.cells[i] = v>>32<<32 | uint64(len(entries))
		}
	}
	x.entries, x.free = entries, nil
	if oldMem != nil {
		x.mem.Release(oldMem)
	}
}

// moveHashes moves the hashes to a new block with room for n slots.
func (x *keyIndex) moveHashes(n int) {
	old, oldMem := x.hashes, x.hashMem
	x.hashMem = x.mem.Block(n * int(unsafe.Sizeof(auth.KeyHash{})))
	x.hashes = unsafe.Slice((*auth.KeyHash)(unsafe.Pointer(&x.hashMem[0])), n)
	copy(x.hashes, old)
	if oldMem != nil {
		x.mem.Release(oldMem)
	}
}

// resize moves the cells to a new block of n (a power of two with room
// for every key).
func (x *keyIndex) resize(n int) {
	old, oldMem := x.cells, x.cellMem
	x.cellMem = x.mem.Block(n * 8)
	x.cells = unsafe.Slice((*uint64)(unsafe.Pointer(&x.cellMem[0])), n)
	for _, v := range old {
		if v != 0 {
			x.place(uint32(v>>32), uint32(v)-1)
		}
	}
	if oldMem != nil {
		x.mem.Release(oldMem)
	}
}
