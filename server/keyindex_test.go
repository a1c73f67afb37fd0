package server

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"reflect"
	"testing"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/internal/offheap"
)

// checkIndex fails t unless x's cells, entries and free slots agree:
// every held hash is found at its cell, every slot is held once or free.
func checkIndex(t *testing.T, x *keyIndex) {
	t.Helper()
	held := map[uint32]bool{}
	n := 0
	for i, v := range x.cells.Cells() {
		if v == 0 {
			continue
		}
		n++
		slot := uint32(v) - 1
		if held[slot] || x.entries[slot] == nil || tagOf(&x.hashes[slot]) != uint32(v>>32) {
			t.Fatalf("cell %d: slot %d held twice, empty or under another tag", i, slot)
		}
		held[slot] = true
		if j, ok := x.find(&x.hashes[slot]); !ok || int(j) != i {
			t.Fatalf("cell %d found at %d, %v", i, j, ok)
		}
	}
	for _, s := range x.free {
		if held[s] || x.entries[s] != nil {
			t.Fatalf("free slot %d held", s)
		}
		held[s] = true
	}
	if n != x.n || len(held) != len(x.entries) || len(x.hashes) < len(x.entries) {
		t.Fatalf("%d cells used, n %d; %d slots accounted for of %d, room for %d", n, x.n, len(held), len(x.entries), len(x.hashes))
	}
}

func churnHash(i int) auth.KeyHash {
	return sha256.Sum256(binary.LittleEndian.AppendUint64(nil, uint64(i)))
}

// TestKeyCacheChurn: keys cached, most evicted, some invalidated one by
// one or by user, then cached again. Every key held maps to its own entry
// throughout, the index gives memory back as it empties, and each shard's
// bookkeeping stays whole.
func TestKeyCacheChurn(t *testing.T) {
	const n = 40_000
	c := newKeyCache()
	entries := make([]*keyEntry, n)
	for i := range entries {
		entries[i] = &keyEntry{id: fmt.Sprint("key_", i), userID: fmt.Sprint("usr_", i%100)}
		entries[i].seen.Store(int64(i % 10))
		if got := c.put(churnHash(i), entries[i], 0); got != entries[i] {
			t.Fatalf("put %d returned another entry", i)
		}
	}
	cells, slots := c.cellCount(), c.slotRoom()
	held := func(i int) bool { return true }
	c.check(t, n, entries, held)
	if got := c.evict(9, nil); got != n-n/10 { // keeps the keys seen at 9
		t.Fatalf("evicted %d, want %d", got, n-n/10)
	}
	held = func(i int) bool { return i%10 == 9 }
	c.check(t, n, entries, held)
	if after, room := c.cellCount(), c.slotRoom(); after*2 > cells || room*2 > slots {
		t.Fatalf("%d cells and room for %d slots before eviction, %d and %d after: memory not given back", cells, slots, after, room)
	}
	c.invalidateUser("usr_19")
	c.invalidate(churnHash(29))
	held = func(i int) bool { return i%10 == 9 && i%100 != 19 && i != 29 }
	c.check(t, n, entries, held)
	if !entries[19].used.dropped() || !entries[29].used.dropped() || entries[39].used.dropped() {
		t.Fatal("invalidated entries not marked dropped, or others marked")
	}
	for i := range entries {
		if c.put(churnHash(i), entries[i], c.shard(churnHash(i)).gen) != entries[i] {
			t.Fatalf("put %d again returned another entry", i)
		}
	}
	c.check(t, n, entries, func(int) bool { return true })
}

// check fails t unless exactly the keys i for which held(i) map to their
// entries, and every shard's index is whole.
func (c *keyCache) check(t *testing.T, n int, entries []*keyEntry, held func(int) bool) {
	t.Helper()
	for i := range n {
		e, _, _ := c.get(churnHash(i))
		if want := held(i); (e != nil) != want || (want && e != entries[i]) {
			t.Fatalf("key %d: got %v, held %v", i, e, want)
		}
	}
	if c.len() != countHeld(n, held) {
		t.Fatalf("len %d, want %d", c.len(), countHeld(n, held))
	}
	for i := range c.shards {
		checkIndex(t, &c.shards[i].hits)
	}
}

func countHeld(n int, held func(int) bool) int {
	k := 0
	for i := range n {
		if held(i) {
			k++
		}
	}
	return k
}

func (c *keyCache) slotRoom() int {
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].hits.hashes)
	}
	return n
}

func (c *keyCache) cellCount() int {
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].hits.cells.Cells())
	}
	return n
}

// TestKeyHashHoldsNoPointers: the hashes live where the GC does not look
// (see internal/offheap), so a Go pointer in one would not keep its target alive.
func TestKeyHashHoldsNoPointers(t *testing.T) {
	if offheap.HoldsPointers(reflect.TypeFor[auth.KeyHash]()) {
		t.Fatal("auth.KeyHash holds a pointer")
	}
}
