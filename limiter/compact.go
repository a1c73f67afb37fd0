package limiter

import "github.com/keygate/keygate/internal/offheap"

// shrinkLocked gives memory back once a shard holds well under what it
// took: it moves entries out of the trailing chunks into free slots and
// releases those chunks, and halves the index while it is under 1/8 full.
// It requires mu held for writing, so no one holds an entry.
func (s *shard) shrinkLocked() {
	n := len(s.index.Cells())
	for n > minIndex && s.n*8 < n {
		n /= 2
	}
	if n != len(s.index.Cells()) {
		s.index.Resize(n)
	}
	if s.next <= chunkSlots || uint32(s.n)*4 >= s.next {
		return
	}
	keep := s.keptSlots()
	if keep >= s.next {
		return
	}
	var free []uint32 // free slots below keep, lowest last
	for _, slot := range s.free {
		if slot < keep {
			free = append(free, slot)
		}
	}
	cells := s.index.Cells()
	for i, v := range cells {
		if v == 0 || offheap.CellSlot(v) < keep {
			continue
		}
		to := free[len(free)-1]
		free = free[:len(free)-1]
		s.move(offheap.CellSlot(v), to)
		cells[i] = offheap.Cell(offheap.CellTag(v), to)
	}
	s.free, s.next = free, keep
	for c := int(keep / chunkSlots); c < len(s.chunks); c++ {
		s.a.Release(s.chunkMems[c])
		s.chunks[c], s.chunkMems[c] = nil, nil
	}
	s.chunks, s.chunkMems = s.chunks[:keep/chunkSlots], s.chunkMems[:keep/chunkSlots]
}

// keptSlots returns the slot count, a whole number of chunks, that holds
// every entry once the entries that may move have moved down: an entry
// that is queued may not (its slot is on a dirty list), the others may.
// It requires mu held for writing.
func (s *shard) keptSlots() uint32 {
	keep := (uint32(s.n) + chunkSlots - 1) / chunkSlots * chunkSlots
	for _, v := range s.index.Cells() {
		if slot := offheap.CellSlot(v); v != 0 && slot >= keep && s.at(slot).queued {
			keep = (slot/chunkSlots + 1) * chunkSlots
		}
	}
	return keep
}

// move copies the entry in slot from, which is not queued, to the free
// slot to. It requires mu held for writing.
func (s *shard) move(from, to uint32) {
	src, dst := s.at(from), s.at(to)
	dst.klen, dst.key = src.klen, src.key
	dst.dirty, dst.queued, dst.rolled = false, false, false
	dst.bucket, dst.day, dst.count, dst.lastUsed = src.bucket, src.day, src.count, src.lastUsed
	if src.klen == longKey {
		s.long[to] = s.long[from]
		delete(s.long, from)
	}
}
