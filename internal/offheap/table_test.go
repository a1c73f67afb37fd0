package offheap

import (
	"math/rand/v2"
	"testing"
)

// find probes t for slot under tag, as the tables' owners do.
func find(t *Table, tag, slot uint32) (uint32, bool) {
	cells := t.Cells()
	for i := t.Home(tag); ; i = t.Next(i) {
		v := cells[i]
		if v == 0 {
			return 0, false
		}
		if CellTag(v) == tag && CellSlot(v) == slot {
			return i, true
		}
	}
}

// A table under random places, removes and resizes keeps every cell in
// use reachable by a probe from its home, and holds nothing else. Tags
// are drawn from a small range so that probes collide and wrap around.
func TestTable_Random(t *testing.T) {
	var a Arena
	defer a.ReleaseAll()
	tb := NewTable(&a)
	tb.Resize(16)
	r := rand.New(rand.NewPCG(3, 4))
	held := map[uint32]uint32{} // slot -> tag
	next := uint32(0)
	for step := range 20000 {
		switch n := len(tb.Cells()); {
		case (len(held)+1)*4 > n*3:
			tb.Resize(2 * n)
		case len(held)*8 < n && n > 16 && step%7 == 0:
			tb.Resize(n / 2)
		}
		if len(held) == 0 || r.IntN(3) > 0 {
			tag := r.Uint32N(64) | r.Uint32()<<20 // homes collide in a small table
			tb.Place(tag, next)
			held[next] = tag
			next++
		} else {
			for slot, tag := range held { // any one
				i, ok := find(&tb, tag, slot)
				if !ok {
					t.Fatalf("step %d: slot %d under tag %#x not found", step, slot, tag)
				}
				tb.Remove(i)
				delete(held, slot)
				break
			}
		}
		if step%500 == 0 || step == 19999 {
			used := 0
			for _, v := range tb.Cells() {
				if v != 0 {
					used++
					if held[CellSlot(v)] != CellTag(v) {
						t.Fatalf("step %d: cell %#x not held", step, v)
					}
				}
			}
			if used != len(held) {
				t.Fatalf("step %d: %d cells in use, want %d", step, used, len(held))
			}
			for slot, tag := range held {
				if _, ok := find(&tb, tag, slot); !ok {
					t.Fatalf("step %d: slot %d under tag %#x unreachable", step, slot, tag)
				}
			}
		}
	}
}
