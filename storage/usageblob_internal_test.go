package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/offheap"
)

// The shard of a lineage is part of the file format: a change would hide
// every stored count (issue 6). These values were computed once.
func TestUsageShard_Stable(t *testing.T) {
	got := fmt.Sprint(usageShard("key_a"), usageShard("key_0123456789abcdefghij"), usageShard(""), usageShard([]byte("x")))
	if want := "5351 1266 0 2288"; got != want {
		t.Errorf("shards = %s, want %s", got, want)
	}
}

// Ids that differ in a few bytes land in shards about evenly: a skewed
// hash makes some blobs, and the flushes that rewrite them, large.
func TestUsageShard_Spreads(t *testing.T) {
	const n = 200_000
	var counts [usageShards]int
	for i := range n {
		counts[usageShard(fmt.Sprintf("key_%020d", i))]++
	}
	if most := slices.Max(counts[:]); most > 2*n/usageShards {
		t.Errorf("fullest shard holds %d of %d ids, mean %d", most, n, n/usageShards)
	}
}

// blob builds a blob from "lineage=count" pairs, in the order given.
func blob(records ...string) []byte {
	var b []byte
	for _, r := range records {
		l, n, _ := strings.Cut(r, "=")
		var count uint64
		fmt.Sscan(n, &count)
		b = appendRecord(b, l, count)
	}
	return b
}

// decodeBlob lists a blob's records as "lineage=count", and whether all
// its bytes were read.
func decodeBlob(b []byte) ([]string, bool) {
	r := blobReader{rest: b}
	var out []string
	read := 0
	for l, n, ok := r.next(); ok; l, n, ok = r.next() {
		out = append(out, fmt.Sprintf("%s=%d", l, n))
		read = len(b) - len(r.rest)
	}
	return out, read == len(b)
}

// testBatch is sorted batch entries and the names their lineages are in.
type testBatch struct {
	es    []usageEntry
	names []byte
}

// add appends an entry for lineage l with count n.
func (b *testBatch) add(l string, n uint64) {
	b.es = append(b.es, usageEntry{at: uint32(len(b.names)), size: uint32(len(l)), word: prefixWord(l), n: n})
	b.names = append(b.names, l...)
}

// sort sorts the entries by lineage, stably.
func (b *testBatch) sort() {
	slices.SortStableFunc(b.es, func(x, y usageEntry) int { return compareEntries(x, y, b.names) })
}

// entries builds sorted batch entries from "lineage=count" pairs.
func entries(records ...string) testBatch {
	var b testBatch
	for _, r := range records {
		l, n, _ := strings.Cut(r, "=")
		var count uint64
		fmt.Sscan(n, &count)
		b.add(l, count)
	}
	b.sort()
	return b
}

func TestMergeBlob(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stored []byte
		news   testBatch
		want   string
	}{
		{"into nothing", nil, entries("b=2", "a=1"), "a=1 b=2"},
		{"new lineages interleave", blob("b=5", "d=7"), entries("a=1", "c=3", "e=9"), "a=1 b=5 c=3 d=7 e=9"},
		{"a larger count wins", blob("a=5", "b=5"), entries("a=9"), "a=9 b=5"},
		{"a stale count changes nothing", blob("a=5", "b=5"), entries("a=3", "b=5"), "a=5 b=5"},
		{"repeats in a batch keep the largest", nil, entries("a=3", "a=8", "a=2"), "a=8"},
		{"prefixes sort first", nil, entries("key_ab=1", "key_a=2", "key_abcdefghij=3", "key_abcdefgh=4"), "key_a=2 key_ab=1 key_abcdefgh=4 key_abcdefghij=3"},
		{"empty batch keeps the blob", blob("a=1"), testBatch{}, "a=1"},
		{"malformed tail dropped", append(blob("a=1", "c=3"), 0xff), entries("b=2"), "a=1 b=2 c=3"},
		{"out of order record ends the blob", blob("b=1", "a=2", "c=3"), entries("d=4"), "b=1 d=4"},
		{"length past the end", append(blob("a=1"), 5, 'x'), entries("b=1"), "a=1 b=1"},
		{"empty lineage", append(blob("a=1"), 0, 1), testBatch{}, "a=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeBlob(nil, tc.stored, tc.news.es, tc.news.names)
			records, whole := decodeBlob(got)
			if s := strings.Join(records, " "); s != tc.want || !whole {
				t.Errorf("merged = %q (whole %v), want %q", s, whole, tc.want)
			}
		})
	}
}

func TestBlobReader_Malformed(t *testing.T) {
	huge := binary.AppendUvarint(append(binary.AppendUvarint(nil, 1), 'a'), math.MaxInt64+1)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, ""},
		{"bad length varint", []byte{0xff, 0xff}, ""},
		{"bad count varint", append(blob("a=1"), 1, 'b', 0xff), "a=1"},
		{"count above MaxInt64", append(blob("a=1"), huge[:]...), "a=1"},
		{"repeat", blob("a=1", "a=2"), "a=1"},
		{"huge length", binary.AppendUvarint(nil, math.MaxUint64), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			records, _ := decodeBlob(tc.b)
			if got := strings.Join(records, " "); got != tc.want {
				t.Errorf("records = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBlobCount(t *testing.T) {
	b := blob("key_a=1", "key_b=2", "key_d=4")
	for lineage, want := range map[string]uint64{"key_a": 1, "key_b": 2, "key_c": 0, "key_d": 4, "key_e": 0, "": 0, "key_": 0} {
		if got := blobCount(b, lineage); got != want {
			t.Errorf("blobCount(%q) = %d, want %d", lineage, got, want)
		}
	}
}

// groupUsage orders a batch by day, shard and lineage, whatever the input
// order, and leaves out counts that are not positive.
func TestGroupUsage_Order(t *testing.T) {
	d1 := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	d0 := d1.AddDate(0, 0, -1)
	var usage []Usage
	for i := range 5000 {
		day := d1
		if i%3 == 0 {
			day = d0
		}
		usage = append(usage, Usage{Lineage: fmt.Sprintf("key_%d", (i*7919)%5000), Day: day, Count: int64(i%7 - 1)})
	}
	for _, s := range []*flushScratch{{}, {mem: new(offheap.Arena)}} { // on the heap, then off it
		for range 2 { // the second time with the scratch reused
			g := s.groupUsage(usage, noPace)
			es := g.entries
			want := 0
			for _, u := range usage {
				if u.Count > 0 {
					want++
				}
			}
			if len(es) != want {
				t.Fatalf("%d entries, want %d", len(es), want)
			}
			for i := 1; i < len(es); i++ {
				a, b := es[i-1], es[i]
				if cmpGroup(a, b) > 0 || (cmpGroup(a, b) == 0 && bytes.Compare(a.lineage(g.names), b.lineage(g.names)) > 0) {
					t.Fatalf("entries %d and %d out of order: %+v, %+v", i-1, i, a, b)
				}
				if l := a.lineage(g.names); a.word != prefixWord(l) || a.shard != usageShard(l) {
					t.Fatalf("entry %d: word or shard not its lineage's: %+v", i-1, a)
				}
			}
		}
	}
}

func cmpGroup(a, b usageEntry) int {
	if a.day != b.day {
		return int(a.day - b.day)
	}
	return int(a.shard) - int(b.shard)
}

// FuzzMergeUsageBlob feeds arbitrary stored bytes and batches to the blob
// merge: it must not panic, and its result must be a well-formed blob
// that keeps, for every lineage, the largest count it was given.
func FuzzMergeUsageBlob(f *testing.F) {
	f.Add(blob("a=1", "c=3"), "b,a,c", uint64(2))
	f.Add([]byte{0xff, 0x01}, "a", uint64(1))
	f.Add(append(blob("b=1"), blob("a=1")...), "", uint64(0))
	f.Fuzz(func(t *testing.T, stored []byte, lineages string, n uint64) {
		var news testBatch
		for i, l := range strings.Split(lineages, ",") {
			if l != "" {
				news.add(l, (n+uint64(i))&math.MaxInt64)
			}
		}
		news.sort()
		got := mergeBlob(nil, stored, news.es, news.names)
		want := map[string]uint64{}
		r := blobReader{rest: stored}
		for l, c, ok := r.next(); ok; l, c, ok = r.next() {
			want[string(l)] = c
		}
		for _, e := range news.es {
			l := string(e.lineage(news.names))
			want[l] = max(want[l], e.n)
		}
		records, whole := decodeBlob(got)
		if !whole || len(records) != len(want) {
			t.Fatalf("merged %d records (whole %v), want %d", len(records), whole, len(want))
		}
		for l, c := range want {
			if blobCount(got, l) != c {
				t.Fatalf("count of %q = %d, want %d", l, blobCount(got, l), c)
			}
		}
	})
}
