package limiter

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/offheap"
)

var slabT0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

// checkShard fails t unless s's index, free list and chunks agree: every
// entry is indexed once and found under its own key, and every slot below
// next is either held or free.
func checkShard(t *testing.T, s *shard) {
	t.Helper()
	held := map[uint32]bool{}
	for _, v := range s.index.Cells() {
		if v == 0 {
			continue
		}
		slot := uint32(v) - 1
		if held[slot] || slot >= s.next {
			t.Fatalf("slot %d indexed twice or past next %d", slot, s.next)
		}
		held[slot] = true
		key := s.keyOf(slot, s.at(slot))
		if got, ok := s.find(uint32(v>>32), key); !ok || got != slot {
			t.Fatalf("key %q in slot %d found at %d, %v", key, slot, got, ok)
		}
	}
	for _, slot := range s.free {
		if held[slot] || slot >= s.next {
			t.Fatalf("free slot %d held or past next %d", slot, s.next)
		}
		held[slot] = true
	}
	if len(held) != int(s.next) || len(held)-len(s.free) != s.n || s.next > uint32(len(s.chunks))*chunkSlots {
		t.Fatalf("next %d, %d held or free, %d free, n %d, %d chunks", s.next, len(held), len(s.free), s.n, len(s.chunks))
	}
}

// churnKeys returns n keys, every seventh one too long to be held inline.
func churnKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key_%020d", i)
		if i%7 == 0 {
			keys[i] += strings.Repeat("x", 40)
		}
	}
	return keys
}

// TestChurnKeepsEveryKey: enough keys that shards take several chunks,
// then most evicted (so shards move entries down and give chunks back),
// then brought back into reused slots. Every key keeps its own count
// throughout, and each shard's bookkeeping stays whole.
func TestChurnKeepsEveryKey(t *testing.T) {
	keys := churnKeys(48_000)
	seed := make(map[string]int64, len(keys))
	for i, k := range keys {
		seed[k] = int64(i) * 3
	}
	l := New(Options{IdleTTL: 10 * time.Minute, Load: func(k string, _ time.Time) (int64, error) { return seed[k], nil }})
	lim := Limits{PerMinute: 10, PerDay: 1 << 40}
	t1, t2 := slabT0.Add(30*time.Minute), slabT0.Add(time.Hour)
	for _, k := range keys {
		if _, err := l.PeekAt(k, lim, slabT0); err != nil {
			t.Fatal(err)
		}
	}
	chunks := l.chunkCount()
	for i, k := range keys {
		if i%10 == 0 {
			l.PeekAt(k, lim, t1) // kept by the eviction at t1
		}
	}
	if n := l.Evict(t1); n != len(keys)-len(keys)/10 || l.Len() != len(keys)/10 {
		t.Fatalf("evicted %d, %d left; want %d, %d", n, l.Len(), len(keys)-len(keys)/10, len(keys)/10)
	}
	if after := l.chunkCount(); after*2 > chunks {
		t.Fatalf("%d chunks before eviction, %d after: memory not given back", chunks, after)
	}
	l.checkCounts(t, keys, seed, t1, func(i int) bool { return i%10 == 0 })
	for _, k := range keys {
		if d, err := l.AllowAt(k, lim, t2); err != nil || !d.Allowed {
			t.Fatalf("AllowAt(%q): %+v, %v", k, d, err)
		}
		seed[k]++
	}
	l.checkCounts(t, keys, seed, t2, func(int) bool { return true })
	usage := l.Drain()
	if len(usage) != len(keys) {
		t.Fatalf("Drain returned %d usages, want %d", len(usage), len(keys))
	}
	for _, u := range usage {
		if u.Count != seed[u.Key] {
			t.Fatalf("Drain: %s counted %d, want %d", u.Key, u.Count, seed[u.Key])
		}
	}
}

// checkCounts fails t unless the keys for which held(i) report their seed
// count at now, and the others are not in memory; and every shard is whole.
func (l *Limiter) checkCounts(t *testing.T, keys []string, seed map[string]int64, now time.Time, held func(int) bool) {
	t.Helper()
	for i, k := range keys {
		n, ok := l.CountAt(k, now)
		if ok != held(i) || (ok && n != seed[k]) {
			t.Fatalf("CountAt(%q) = %d, %v; want %d, %v", k, n, ok, seed[k], held(i))
		}
	}
	for i := range l.shards {
		checkShard(t, &l.shards[i])
	}
}

func (l *Limiter) chunkCount() int {
	n := 0
	for i := range l.shards {
		n += len(l.shards[i].chunks)
	}
	return n
}

// TestQueuedEntriesStay: an entry waiting on a dirty list keeps its slot
// when its shard shrinks, so the Drain that walks the list still counts it.
func TestQueuedEntriesStay(t *testing.T) {
	keys := churnKeys(48_000)
	l := New(Options{})
	lim := Limits{PerMinute: 10, PerDay: 1 << 40}
	for _, k := range keys {
		l.PeekAt(k, lim, slabT0)
	}
	last := keys[len(keys)-1] // in its shard's last chunk, likely
	t1 := slabT0.Add(time.Hour)
	if _, err := l.AllowAt(last, lim, t1); err != nil {
		t.Fatal(err)
	}
	l.Evict(t1)
	if l.Len() != 1 {
		t.Fatalf("%d keys left, want 1", l.Len())
	}
	for i := range l.shards {
		checkShard(t, &l.shards[i])
	}
	if u := l.Drain(); len(u) != 1 || u[0].Key != last || u[0].Count != 1 {
		t.Fatalf("Drain = %+v, want %s counted once", u, last)
	}
}

// TestEntryHoldsNoPointers: entries live where the GC does not look (see
// internal/offheap), so a Go pointer in one would not keep its target alive.
func TestEntryHoldsNoPointers(t *testing.T) {
	if offheap.HoldsPointers(reflect.TypeFor[entry]()) {
		t.Fatal("entry holds a pointer")
	}
}
