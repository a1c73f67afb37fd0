package storage

import (
	"unsafe"

	"github.com/keygate/keygate/internal/offheap"
)

// A flush's working arrays (its entries, their lineages, the blobs it
// puts) are kept for the next flush, a busy server's at about 100 bytes
// a counter. On the Go heap they counted twice in the resident memory
// per active key, since the GC lets the heap grow to about twice what is
// live (issue 6); so they live in offheap blocks, which hold no Go
// pointer: entries name their lineage by offset.

// Bounds on what a scratch array keeps: it gives back a block that had
// over scratchSlack times the room asked for, unless the block is under
// scratchKeep bytes, scratchPatience flushes in a row. A burst flush
// therefore does not pin its memory for long, nor do a few quiet seconds
// give up a busy second's block. Giving it back at once did: a busy
// server's flushes alternating with small ones mapped, faulted in and
// copied several MB again each busy second, ~15 ms of unpaced work in a
// flush of 100,000 counters (issue 6).
const (
	scratchSlack    = 4
	scratchKeep     = 64 << 10
	scratchPatience = 10 // about ten seconds of the flusher's
)

// scratchArray is an array of T, which must hold no pointer, in a block
// of an Arena, or on the heap without one (a migration's one-off flush).
type scratchArray[T any] struct {
	items []T
	mem   []byte   // items' block; nil if on the heap
	roomy patience // takes in a row that found items too roomy
}

// take returns the array with n items, their contents undefined. The
// items it returned before must no longer be used.
func (s *scratchArray[T]) take(a *offheap.Arena, n int) []T {
	if n <= cap(s.items) && !s.roomy.over(tooRoomy(cap(s.items)*sizeOf[T](), n*sizeOf[T]())) {
		return s.items[:n]
	}
	s.release(a)
	if n == 0 {
		return nil
	}
	room := n + n/4 // so that a slightly busier flush finds room
	if a == nil {
		s.items = make([]T, room)
		return s.items[:n]
	}
	s.mem = a.Block(room * sizeOf[T]())
	s.items = unsafe.Slice((*T)(unsafe.Pointer(&s.mem[0])), room)
	return s.items[:n]
}

// release gives back the array's block.
func (s *scratchArray[T]) release(a *offheap.Arena) {
	if s.mem != nil {
		a.Release(s.mem)
	}
	s.items, s.mem, s.roomy = nil, nil, 0
}

// patience counts flushes in a row that found a block too roomy.
type patience uint8

// over counts one more flush, which found the block too roomy or not,
// and reports whether the block has been so for scratchPatience flushes.
func (p *patience) over(roomy bool) bool {
	if !roomy {
		*p = 0
		return false
	}
	if *p++; *p < scratchPatience {
		return false
	}
	*p = 0
	return true
}

// tooRoomy reports whether a block of size bytes is worth giving back
// when used bytes of it are needed.
func tooRoomy(size, used int) bool {
	return size > scratchKeep && size > scratchSlack*used
}

func sizeOf[T any]() int {
	var v T
	return int(unsafe.Sizeof(v))
}
