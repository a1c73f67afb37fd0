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
// The cells (an offheap.Table, tagged with 32 bits of the hash: SHA-256
// output, so uniform) map hashes to slots; a probe reads a full hash only
// when its tag matches. The cells and hashes hold no Go pointer and live
// off the heap (see internal/offheap): after the entries themselves they
// are the bulk of the cache.
type keyIndex struct {
	mem     *offheap.Arena // where blocks come from; shared by the cache
	cells   offheap.Table
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
	cells := x.cells.Cells()
	if len(cells) == 0 {
		return 0, false
	}
	tag := tagOf(h)
	for i := x.cells.Home(tag); ; i = x.cells.Next(i) {
		v := cells[i]
		if v == 0 {
			return 0, false
		}
		if offheap.CellTag(v) == tag && x.hashes[offheap.CellSlot(v)] == *h {
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
	if v := x.cells.Cells()[i]; v != 0 {
		return x.entries[offheap.CellSlot(v)]
	}
	return nil
}

// add stores e for h, which is not held.
func (x *keyIndex) add(h *auth.KeyHash, e *keyEntry) {
	if n := len(x.cells.Cells()); (x.n+1)*4 > n*3 {
		x.cells.Resize(max(2*n, minKeyIndex))
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
	x.cells.Place(tagOf(h), slot)
	x.n++
}

// removeAt drops the entry in cell i, which is in use. A cell after i may
// move into it (so a walk over the cells looks at i again), or one from
// the start of the cells past their end (looked at twice by such a walk:
// callers must not mind).
func (x *keyIndex) removeAt(i uint32) {
	slot := offheap.CellSlot(x.cells.Cells()[i])
	x.entries[slot] = nil
	x.free = append(x.free, slot)
	x.n--
	x.cells.Remove(i)
}

// compact gives back memory once the index holds far fewer keys than it
// has room for: the cells are halved while under 1/8 full, and the slots
// renumbered once under a quarter of them are in use. It must not run
// during a walk over the cells.
func (x *keyIndex) compact() {
	n := len(x.cells.Cells())
	for n > minKeyIndex && x.n*8 < n {
		n /= 2
	}
	if n != len(x.cells.Cells()) {
		x.cells.Resize(n)
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
	cells := x.cells.Cells()
	for i, v := range cells {
		if v != 0 {
			slot := uint32(len(entries))
			x.hashes[slot] = oldHashes[offheap.CellSlot(v)]
			entries = append(entries, x.entries[offheap.CellSlot(v)])
			cells[i] = offheap.Cell(offheap.CellTag(v), slot)
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
