package offheap

import "unsafe"

// Table is the index both per-key tables use: an open-addressing table of
// cells, each 0 (empty) or a 32-bit tag and a slot (see Cell). The tag is
// 32 bits of the key's hash, and a cell sits at its tag's home
// (tag&(len-1)) or after it, probing linearly. The owner keeps it at most
// 3/4 full, so a probe always meets an empty cell; it compares tags, and
// its own key only when a tag matches. The cells live in the Arena.
//
// A Table does no locking; its owner guards it.
type Table struct {
	arena *Arena
	cells []uint64
	mem   []byte // cells' block, to release it
}

// NewTable returns an empty Table whose cells come from a.
func NewTable(a *Arena) Table { return Table{arena: a} }

// Cell packs tag and slot into a cell's value, never 0.
func Cell(tag, slot uint32) uint64 { return uint64(tag)<<32 | uint64(slot+1) }

// CellTag and CellSlot unpack a non-empty cell's value.
func CellTag(v uint64) uint32  { return uint32(v >> 32) }
func CellSlot(v uint64) uint32 { return uint32(v) - 1 }

// Cells returns the cells, for probing and walking. A cell written
// through it must keep its tag's home (as renumbering slots does).
func (t *Table) Cells() []uint64 { return t.cells }

// Home is the first cell a probe for tag looks at. It requires cells.
func (t *Table) Home(tag uint32) uint32 { return tag & uint32(len(t.cells)-1) }

// Next is the cell a probe looks at after i.
func (t *Table) Next(i uint32) uint32 { return (i + 1) & uint32(len(t.cells)-1) }

// Place files slot under tag in the first empty cell from tag's home on.
// It requires room.
func (t *Table) Place(tag, slot uint32) {
	i := t.Home(tag)
	for t.cells[i] != 0 {
		i = t.Next(i)
	}
	t.cells[i] = Cell(tag, slot)
}

// Remove empties cell i, shifting back the cells after it that would
// otherwise be cut off from their home. A walk over the cells that
// removes must therefore look at i again, and may see a cell from the
// start of the table twice.
func (t *Table) Remove(i uint32) {
	mask := uint32(len(t.cells) - 1)
	for j := i; ; {
		t.cells[i] = 0
		for {
			j = (j + 1) & mask
			v := t.cells[j]
			if v == 0 {
				return
			}
			// The cell at j may fill the hole at i unless its home lies
			// cyclically in (i, j].
			if home := CellTag(v) & mask; (j-home)&mask >= (j-i)&mask {
				t.cells[i] = v
				i = j
				break
			}
		}
	}
}

// Resize moves the cells to a new block of n, a power of two with room
// for every cell in use.
func (t *Table) Resize(n int) {
	old, oldMem := t.cells, t.mem
	t.mem = t.arena.Block(n * 8)
	t.cells = unsafe.Slice((*uint64)(unsafe.Pointer(&t.mem[0])), n)
	for _, v := range old {
		if v != 0 {
			t.Place(CellTag(v), CellSlot(v))
		}
	}
	if oldMem != nil {
		t.arena.Release(oldMem)
	}
}
