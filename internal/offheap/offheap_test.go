package offheap

import (
	"reflect"
	"testing"
	"unsafe"
)

// Blocks come back zeroed, 8-byte aligned and of the size asked for, and
// can be written, released and handed out again, small (heap) and large
// (mapped where the platform allows) alike.
func TestArena_Blocks(t *testing.T) {
	var a Arena
	for _, n := range []int{1, 7, 8, 100, mapMin - 1, mapMin, 3*mapMin + 5} {
		for round := range 2 {
			b := a.Block(n)
			if len(b) != n {
				t.Fatalf("Block(%d) has %d bytes", n, len(b))
			}
			if p := uintptr(unsafe.Pointer(&b[0])); p%8 != 0 {
				t.Fatalf("Block(%d) at %#x: not 8-byte aligned", n, p)
			}
			for i, c := range b {
				if c != 0 {
					t.Fatalf("Block(%d) round %d: byte %d is %d, want 0", n, round, i, c)
				}
			}
			for i := range b {
				b[i] = 0xff
			}
			a.Release(b)
		}
	}
	a.mu.Lock()
	left := len(a.mapped)
	a.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d mapped blocks left after releasing all", left)
	}
}

// ReleaseAll gives back every mapped block still out.
func TestArena_ReleaseAll(t *testing.T) {
	var a Arena
	for range 3 {
		a.Block(2 * mapMin)
	}
	a.ReleaseAll()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.mapped) != 0 {
		t.Fatalf("%d mapped blocks left", len(a.mapped))
	}
}

// Mapped counts a block from its mapping to its release, by Release or
// ReleaseAll, and a block from the heap not at all.
func TestMapped(t *testing.T) {
	var a Arena
	before := Mapped()
	check := func(when string, want int) {
		t.Helper()
		if !Maps {
			want = 0 // every block is on the heap
		}
		if got := Mapped() - before; got != int64(want) {
			t.Fatalf("%s: Mapped grew by %d, want %d", when, got, want)
		}
	}
	small := a.Block(mapMin - 1)
	check("a small block", 0)
	big, bigger := a.Block(2*mapMin), a.Block(5*mapMin+3)
	check("two large blocks", len(big)+len(bigger))
	a.Release(big)
	check("one released", len(bigger))
	a.Release(small)
	check("the small one released", len(bigger))
	a.ReleaseAll()
	check("all released", 0)
}

// HoldsPointers tells the types the GC must see from those it need not.
func TestHoldsPointers(t *testing.T) {
	type flat struct {
		a int64
		b [4]uint32
		c struct{ d float64 }
	}
	type nested struct {
		a int
		b [2]struct{ s string }
	}
	for _, c := range []struct {
		typ  reflect.Type
		want bool
	}{
		{reflect.TypeFor[flat](), false},
		{reflect.TypeFor[[32]byte](), false},
		{reflect.TypeFor[[0]*int](), false},
		{reflect.TypeFor[nested](), true},
		{reflect.TypeFor[*int](), true},
		{reflect.TypeFor[[]byte](), true},
		{reflect.TypeFor[map[int]int](), true},
		{reflect.TypeFor[any](), true},
		{reflect.TypeFor[func()](), true},
		{reflect.TypeFor[unsafe.Pointer](), true},
	} {
		if got := HoldsPointers(c.typ); got != c.want {
			t.Errorf("HoldsPointers(%v) = %v, want %v", c.typ, got, c.want)
		}
	}
}
