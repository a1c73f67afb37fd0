//go:build (linux || darwin || freebsd || netbsd || openbsd || dragonfly) && !race

package offheap

import "syscall"

// Maps reports whether this build maps large blocks outside the Go heap:
// not under the race detector, nor where mmap is missing.
const Maps = true

// mapBlock maps n zeroed bytes outside the Go heap, or returns nil (the
// caller then falls back to the heap).
func mapBlock(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return b
}

// unmapBlock unmaps a block from mapBlock.
func unmapBlock(b []byte) {
	_ = syscall.Munmap(b) // fails only for a block not mapped by mapBlock
}
