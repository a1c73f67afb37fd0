//go:build !((linux || darwin || freebsd || netbsd || openbsd || dragonfly) && !race)

package offheap

// mapping: this build maps none.
const mapping = false

// mapBlock maps nothing here: on other platforms, and under the race
// detector (which watches only Go memory), every block comes from the Go
// heap.
func mapBlock(int) []byte { return nil }

// unmapBlock is never called: mapBlock maps nothing.
func unmapBlock([]byte) {}
