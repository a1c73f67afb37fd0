package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keygate/keygate/internal/offheap"
)

// BenchmarkGroupUsage measures the part of a flush of 100000 counters
// outside bbolt: copying, grouping and sorting the batch (issue 6).
func BenchmarkGroupUsage(b *testing.B) {
	usage := randomUsage(rand.New(rand.NewPCG(1, 2)), 100_000, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	var s flushScratch
	b.ReportAllocs()
	for b.Loop() {
		s.groupUsage(usage, noPace)
	}
}

// newDB opens a database in a new temporary folder, closed when tb ends.
func newDB(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "k.db"), Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// randomUsage returns n counts on day, of random lineages shaped like key
// ids, the i-th count i+1: a count read back under another lineage shows.
func randomUsage(r *rand.Rand, n int, day time.Time) []Usage {
	usage := make([]Usage, n)
	for i := range usage {
		usage[i] = Usage{Lineage: randomID(r), Day: day, Count: int64(i + 1)}
	}
	return usage
}

// randomID returns an id shaped like a key id: "key_" and 20 characters
// from 62.
func randomID(r *rand.Rand) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	id := []byte("key_")
	for range 20 {
		id = append(id, alphabet[r.IntN(len(alphabet))])
	}
	return string(id)
}

// flushKeyLastUsed reads through a cursor walking forward, not a seek per
// id: over many ids, some stored before, some new, some of keys that do
// not exist, every existing key gets its latest time and no other id gets
// one (issue 6).
func TestFlushKeyLastUsed_Walk(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	var keys []APIKey
	for i := range 300 {
		id := fmt.Sprintf("key_%03d", i*2) // odd numbers are never keys
		keys = append(keys, APIKey{ID: id, UserID: "u1", Name: "k", Prefix: "kg_" + id, Tier: "free", Hash: [32]byte{byte(i), byte(i >> 8), 1}, CreatedAt: decodeT0})
	}
	if err := db.CreateAPIKeys(ctx, keys); err != nil {
		t.Fatal(err)
	}
	t1, t2 := decodeT0.Add(time.Minute), decodeT0.Add(2*time.Minute)
	r := rand.New(rand.NewPCG(5, 6))
	var first, second []LastUsed
	for i := range 600 {
		id := fmt.Sprintf("key_%03d", i)
		if i%3 == 0 {
			first = append(first, LastUsed{ID: id, At: t2}) // later than the second batch's
		}
		second = append(second, LastUsed{ID: id, At: t1})
		if i%5 == 0 {
			second = append(second, LastUsed{ID: id, At: t0Of(i)})
		}
	}
	r.Shuffle(len(second), func(i, j int) { second[i], second[j] = second[j], second[i] })
	for _, b := range []Batch{{Keys: first}, {Keys: second}} {
		if err := db.Flush(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeyLastUsed)
		for i := range 600 {
			id := fmt.Sprintf("key_%03d", i)
			n, ok := decodeUint(b.Get([]byte(id)))
			want := t1
			if i%3 == 0 {
				want = t2
			}
			if i%5 == 0 && t0Of(i).After(want) {
				want = t0Of(i)
			}
			switch {
			case i%2 == 1 && ok:
				t.Errorf("%s, not a key, has a last use", id)
			case i%2 == 0 && (!ok || n != uint64(want.UnixNano())):
				t.Errorf("%s: last use %d (%v), want %v", id, n, ok, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// t0Of is a time for id number i, some before and some after the
// test's other times.
func t0Of(i int) time.Time { return decodeT0.Add(time.Duration(i%7) * 30 * time.Second) }

// The first and last days with a 4-digit year are valid; the days
// around them are not, as their blob keys would be wider.
func TestValidDay_Bounds(t *testing.T) {
	for _, tc := range []struct {
		day  time.Time
		want bool
	}{
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Time{}, true},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{time.Date(0, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("-02", -2*3600)), false}, // 10000-01-01 in UTC
	} {
		if err := validDay(tc.day); (err == nil) != tc.want {
			t.Errorf("validDay(%v) = %v, want valid %v", tc.day, err, tc.want)
		}
	}
}

// The flush's working arrays live off the heap (see scratch.go): they
// must hold no pointer the GC would have to see.
func TestFlushScratch_HoldsNoPointers(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[batchEntry](), reflect.TypeFor[usageEntry](), reflect.TypeFor[entry]()} {
		if offheap.HoldsPointers(typ) {
			t.Errorf("%v holds pointers", typ)
		}
	}
}

// A large flush's values outgrow their block several times within one
// transaction, and every count still reaches the file: a block is given
// back only after the commit, since bbolt reads the values then. Its
// scratch is kept for the next flush, and given back once a flush needs
// far less of it.
func TestFlush_ScratchBlocks(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	big := randomUsage(rand.New(rand.NewPCG(3, 4)), 30_000, day) // about 1 MB of values: several blocks from none
	check := func(us []Usage) {
		t.Helper()
		for _, u := range us {
			if n, err := db.UsageCount(ctx, u.Lineage, day); err != nil || n != u.Count {
				t.Fatalf("count of %s = %d, %v; want %d", u.Lineage, n, err, u.Count)
			}
		}
	}
	if err := db.Flush(ctx, Batch{Usage: big}); err != nil {
		t.Fatal(err)
	}
	check(big)
	s := &db.scratch
	if len(s.retired) != 0 || cap(s.sorted.items) < len(big) || cap(s.vals) == 0 {
		t.Fatalf("after a large flush: %d blocks retired, room for %d entries and %d bytes of values; want 0 and them kept",
			len(s.retired), cap(s.sorted.items), cap(s.vals))
	}
	// Small flushes keep the large blocks for scratchPatience flushes, so
	// that busy and quiet seconds in turn do not map them again and again;
	// then they give them back.
	small := big[:2]
	sorted, vals := &s.sorted.items[0], &s.vals[:1][0]
	const quiet = 5 // seconds of few requests between two busy ones
	for i := range quiet {
		small[0].Count, small[1].Count = 1e6+int64(i), 2e6+int64(i)
		if err := db.Flush(ctx, Batch{Usage: small}); err != nil {
			t.Fatal(err)
		}
		if &s.sorted.items[0] != sorted || &s.vals[:1][0] != vals {
			t.Fatalf("small flush %d of %d moved the entries or values", i+1, quiet)
		}
	}
	check(big)
	for i := range big {
		big[i].Count += 10
	}
	if err := db.Flush(ctx, Batch{Usage: big}); err != nil { // a busy second: its blocks are still there
		t.Fatal(err)
	}
	if &s.sorted.items[0] != sorted || &s.vals[:1][0] != vals {
		t.Fatal("a large flush after small ones mapped new blocks")
	}
	for range scratchPatience {
		small[0].Count++
		if err := db.Flush(ctx, Batch{Usage: small}); err != nil {
			t.Fatal(err)
		}
	}
	check(big[2:])
	if c := cap(s.sorted.items); c*sizeOf[usageEntry]() > scratchKeep {
		t.Errorf("after %d small flushes, room for %d entries kept", scratchPatience, c)
	}
	if c := cap(s.vals); c > scratchKeep {
		t.Errorf("after %d small flushes, room for %d bytes of values kept", scratchPatience, c)
	}
}

// patience gives a block back only once it was too roomy for
// scratchPatience flushes in a row.
func TestPatience(t *testing.T) {
	var p patience
	for i := range 3 * scratchPatience {
		roomy := i%scratchPatience != scratchPatience/2 // one flush in each stretch needs the room
		if p.over(roomy) {
			t.Fatalf("flush %d gave the block back, though one of the last %d needed it", i, scratchPatience)
		}
	}
	p = 0
	for i := 1; i < scratchPatience; i++ {
		if p.over(true) {
			t.Fatalf("gave the block back after %d roomy flushes", i)
		}
	}
	if !p.over(true) {
		t.Fatalf("kept the block after %d roomy flushes", scratchPatience)
	}
	if p.over(true) {
		t.Fatal("the count did not start again once the block was given back")
	}
}

// A batch whose lineages would not fit the flush's 32-bit offsets is
// refused whole, not written with offsets that wrapped around.
func TestFlush_BatchTooLarge(t *testing.T) {
	db := newDB(t)
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	long := strings.Repeat("k", 1<<26) // one string, shared: the batch costs 64 MB, not 4 GB
	usage := make([]Usage, maxBatchNames>>26+1)
	for i := range usage {
		usage[i] = Usage{Lineage: long, Day: day, Count: 1}
	}
	if err := db.Flush(context.Background(), Batch{Usage: usage}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Flush of %d bytes of lineage: %v, want ErrInvalid", len(usage)*len(long), err)
	}
	if n, err := db.UsageCount(context.Background(), long, day); err != nil || n != 0 {
		t.Errorf("count after a refused batch: %d, %v", n, err)
	}
}

// Close gives the flush scratch back at once, and a flush after it is an
// error, not a use of memory already given back.
func TestClose_ReleasesScratch(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	usage := randomUsage(rand.New(rand.NewPCG(5, 6)), 20_000, day)
	if err := db.Flush(ctx, Batch{Usage: usage}); err != nil {
		t.Fatal(err)
	}
	if db.scratch.mem == nil || cap(db.scratch.vals) == 0 {
		t.Fatal("no scratch kept after a flush")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db.scratch.mem != nil || db.scratch.vals != nil || db.scratch.sorted.items != nil {
		t.Errorf("scratch kept after Close")
	}
	if err := db.Flush(ctx, Batch{Usage: usage}); err == nil {
		t.Error("Flush after Close succeeded")
	}
}
