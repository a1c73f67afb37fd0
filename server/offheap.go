package server

import (
	"sync"
	"unsafe"
)

// offHeap hands out memory for tables that hold no Go pointers. Where the
// platform allows (see offheap_mmap.go) large blocks are mapped outside the
// Go heap: the GC lets the heap grow to about twice the live data before
// collecting, so a byte on the heap is kept resident about twice over,
// while a mapped byte costs one. The key cache's index, one cell per
// active key, lives here; the limiter keeps its entries the same way.
type offHeap struct {
	mu     sync.Mutex       // guards mapped
	mapped map[*byte][]byte // blocks mapped and not yet unmapped, by address
}

// offHeapMin is the smallest block worth a mapping of its own: smaller
// ones come from the Go heap, where they cost no page rounding.
const offHeapMin = 16 << 10

// block returns n zeroed bytes, 8-byte aligned, mapped if n is large
// enough and the platform allows.
func (o *offHeap) block(n int) []byte {
	if n >= offHeapMin {
		if b := mapBlock(n); b != nil {
			o.mu.Lock()
			if o.mapped == nil {
				o.mapped = make(map[*byte][]byte)
			}
			o.mapped[&b[0]] = b
			o.mu.Unlock()
			return b
		}
	}
	w := make([]uint64, (n+7)/8) // uint64s for the alignment
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// release gives back a block from block. A heap block is left to the GC.
func (o *offHeap) release(b []byte) {
	o.mu.Lock()
	m, ok := o.mapped[&b[0]]
	delete(o.mapped, &b[0])
	o.mu.Unlock()
	if ok {
		unmapBlock(m)
	}
}

// releaseAll unmaps every block; nothing may use them afterwards. It runs
// as the cleanup of a collected keyCache.
func (o *offHeap) releaseAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for p, b := range o.mapped {
		unmapBlock(b)
		delete(o.mapped, p)
	}
}
