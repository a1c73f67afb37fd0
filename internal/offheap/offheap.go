// Package offheap hands out memory for tables that hold no Go pointers,
// mapped outside the Go heap where the platform allows.
//
// Why: the GC lets the heap grow to about twice the live data before it
// collects, so a byte held on the heap is kept resident about twice over,
// while a mapped byte costs one. keygate holds a few such tables per
// active key (the limiter's entries and index, the key cache's index), so
// this halves what they cost. The GC does not scan mapped memory, so a
// block must never hold the only reference to anything on the heap.
package offheap

import (
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"
)

// mapped is the size of every block mapped and not yet unmapped, by every
// Arena in the process. The runtime does not see these bytes: neither
// GOMEMLIMIT nor runtime.MemStats counts them, so an operator sizing
// memory needs them from here.
var mapped atomic.Int64

// Mapped returns how many bytes the process holds in blocks mapped
// outside the Go heap. A block is counted whole from the moment it is
// mapped, though the kernel makes a page resident only once it is
// touched.
func Mapped() int64 { return mapped.Load() }

// Arena hands out blocks and remembers the mapped ones, so they can be
// given back one by one or all at once. The zero value is ready to use;
// an Arena is safe for concurrent use.
type Arena struct {
	mu     sync.Mutex       // guards mapped
	mapped map[*byte][]byte // blocks mapped and not yet unmapped, by address
}

// mapMin is the smallest block worth a mapping of its own: smaller ones
// come from the Go heap, where they cost no page rounding.
const mapMin = 16 << 10 // four pages

// Block returns n (> 0) zeroed bytes, 8-byte aligned: mapped if n is
// large enough and the platform allows, else from the Go heap. Under the
// race detector, which watches only Go memory, every block is on the heap.
func (a *Arena) Block(n int) []byte {
	if n >= mapMin {
		if b := mapBlock(n); b != nil {
			a.mu.Lock()
			if a.mapped == nil {
				a.mapped = make(map[*byte][]byte)
			}
			a.mapped[&b[0]] = b
			a.mu.Unlock()
			mapped.Add(int64(len(b)))
			return b
		}
	}
	w := make([]uint64, (n+7)/8) // uint64s for the alignment
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// Release gives back a block from Block; nothing may use it afterwards.
// A heap block is left to the GC.
func (a *Arena) Release(b []byte) {
	a.mu.Lock()
	m, ok := a.mapped[&b[0]]
	delete(a.mapped, &b[0])
	a.mu.Unlock()
	if ok {
		unmapBlock(m)
		mapped.Add(-int64(len(m)))
	}
}

// ReleaseAll unmaps every block; nothing may use them afterwards. Owners
// run it as the cleanup (runtime.AddCleanup) of the table they give
// blocks to, so the Arena must not be reachable from that table's owner
// only through the cleanup.
func (a *Arena) ReleaseAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, b := range a.mapped {
		unmapBlock(b)
		mapped.Add(-int64(len(b)))
		delete(a.mapped, p)
	}
}

// HoldsPointers reports whether a value of typ holds anything the GC
// must see (a pointer, string, slice, map, channel, func or interface).
// Only types for which it is false may be kept in an Arena's blocks; the
// tables' tests check their types with it.
func HoldsPointers(typ reflect.Type) bool {
	switch typ.Kind() {
	case reflect.Struct:
		for i := range typ.NumField() {
			if HoldsPointers(typ.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Array:
		return typ.Len() > 0 && HoldsPointers(typ.Elem())
	case reflect.Pointer, reflect.UnsafePointer, reflect.String, reflect.Slice, reflect.Map,
		reflect.Chan, reflect.Func, reflect.Interface:
		return true
	}
	return false
}
