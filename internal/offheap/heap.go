//go:build !((linux || darwin || freebsd || netbsd || openbsd || dragonfly) && !race)

package offheap

// Maps reports whether this build maps large blocks outside the Go heap:
// not under the race detector, nor where mmap is missing.
const Maps = false

// mapBlock maps nothing here: on other platforms, and under the race
// detector (which watches only Go memory), every block comes from the Go
// heap.
func mapBlock(int) []byte { return nil }

// unmapBlock is never called: mapBlock maps nothing.
func unmapBlock([]byte) {}
