package limiter

import (
	"sync"
	"unsafe"
)

// arena hands out the memory that holds entries and shard indexes. Where
// the platform allows (see arena_mmap.go) large blocks are mapped outside
// the Go heap: a server holds one entry per active key, and memory the Go
// heap holds is kept resident about twice over (the GC lets the heap grow
// to twice the live data before collecting), while a mapping costs what it
// holds. Entries and indexes hold no Go pointers, so the GC need not see
// them; a Limiter's blocks are unmapped when the Limiter is collected.
type arena struct {
	mu     sync.Mutex       // guards mapped
	mapped map[*byte][]byte // blocks mapped and not yet unmapped, by address
}

// mapMin is the smallest block worth a mapping of its own: smaller ones
// come from the Go heap, where they cost no page rounding.
const mapMin = 16 << 10 // four pages

// block returns n zeroed bytes, 8-byte aligned, mapped if n is large
// enough and the platform allows.
func (a *arena) block(n int) []byte {
	if n >= mapMin {
		if b := mapBlock(n); b != nil {
			a.mu.Lock()
			if a.mapped == nil {
				a.mapped = make(map[*byte][]byte)
			}
			a.mapped[&b[0]] = b
			a.mu.Unlock()
			return b
		}
	}
	w := make([]uint64, (n+7)/8) // uint64s for the alignment
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// release gives back a block from block. A heap block is left to the GC.
func (a *arena) release(b []byte) {
	a.mu.Lock()
	m, ok := a.mapped[&b[0]]
	delete(a.mapped, &b[0])
	a.mu.Unlock()
	if ok {
		unmapBlock(m)
	}
}

// releaseAll unmaps every block; nothing may use them afterwards. It runs
// as the cleanup of a collected Limiter.
func (a *arena) releaseAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, b := range a.mapped {
		unmapBlock(b)
		delete(a.mapped, p)
	}
}
