package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/storage"
)

// memKeys is how many distinct keys BenchmarkWarmKeyMemory warms: the
// scale scenario's active set.
const memKeys = 100_000

// keyDB is a database of users that hold one key each, shaped like the
// scale benchmark's (bench/loader): ids from auth.NewID, tier "basic".
type keyDB struct {
	db   *storage.DB
	raws []string
}

// newKeyDB fills a database in dir with n users and keys, in batches.
func newKeyDB(dir string, n int) (keyDB, error) {
	db, err := storage.Open(filepath.Join(dir, "keys.db"), storage.Options{NoSync: true})
	if err != nil {
		return keyDB{}, err
	}
	ctx, now := context.Background(), time.Now().UTC()
	raws := make([]string, 0, n)
	for done := 0; done < n; {
		batch := min(20_000, n-done)
		users := make([]storage.User, batch)
		keys := make([]storage.APIKey, batch)
		for i := range batch {
			uid, _ := auth.NewID("usr_", nil)
			kid, _ := auth.NewID("key_", nil)
			raw, h, display, err := auth.NewKey("kg_live_", nil)
			if err != nil {
				return keyDB{}, err
			}
			users[i] = storage.User{ID: uid, Email: fmt.Sprintf("u%d@example.com", done+i), PasswordHash: []byte("x"),
				Role: "user", Tiers: []string{"basic"}, CreatedAt: now}
			keys[i] = storage.APIKey{ID: kid, UserID: uid, Name: "bench", Prefix: display, Tier: "basic", Hash: h, CreatedAt: now}
			raws = append(raws, raw)
		}
		if err := db.CreateUsers(ctx, users); err != nil {
			return keyDB{}, err
		}
		if err := db.CreateAPIKeys(ctx, keys); err != nil {
			return keyDB{}, err
		}
		done += batch
	}
	return keyDB{db: db, raws: raws}, nil
}

// coldKeys is how many keys the cold-key benchmarks cycle through.
const coldKeys = 20_000

// keyDBFor is newKeyDB in b's temporary directory, closed at the end.
func keyDBFor(b *testing.B, n int) keyDB {
	kdb, err := newKeyDB(b.TempDir(), n)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { kdb.db.Close() })
	return kdb
}

// newMemServer is a server over db whose limits never refuse.
func newMemServer(tb testing.TB, db *storage.DB) *Server {
	s, err := New(Config{Tiers: map[string]limiter.Limits{"basic": {PerMinute: 1 << 30, PerDay: 1 << 50}}}, db, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func heapNow() runtime.MemStats {
	runtime.GC()
	runtime.GC() // a second cycle finishes sweeping what the first freed
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

// BenchmarkWarmKeyMemory warms memKeys distinct keys through the request
// path on a fresh server and reports the live heap each warm key holds
// (B/key, between flushes: the dirty lists included), of which the key
// cache's part (cache-B/key: the store read and cached entry, by lookupKey
// first; the rest is the limiter's state and the last-use mark, by verify
// after), and what warming one cold key allocated in all (alloc-B/key,
// allocs/key), most of it garbage left for the GC. What the key cache and
// the limiter keep off the heap (see internal/offheap) is not in these figures.
// Run it with -benchtime=1x: each iteration warms every key again on a
// new server.
func BenchmarkWarmKeyMemory(b *testing.B) {
	kdb := keyDBFor(b, memKeys)
	ctx, now, tiers := context.Background(), time.Now(), []string{"basic"}
	var perKey, cachePerKey, allocB, allocs float64
	for b.Loop() {
		s := newMemServer(b, kdb.db)
		before := heapNow()
		for _, raw := range kdb.raws {
			if e, err := s.lookupKey(ctx, auth.HashKey(raw)); e == nil || err != nil {
				b.Fatalf("lookupKey: %v", err)
			}
		}
		cached := heapNow()
		for _, raw := range kdb.raws {
			if v, err := s.verify(ctx, raw, tiers, now); err != nil || v.code != codeValid {
				b.Fatalf("verify: %v %s", err, v.code)
			}
		}
		after := heapNow()
		if n := s.keys.len(); n != len(kdb.raws) || s.limits.Len() != n {
			b.Fatalf("%d keys cached, %d in the limiter; want %d", n, s.limits.Len(), len(kdb.raws))
		}
		n := float64(len(kdb.raws))
		perKey = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		cachePerKey = float64(int64(cached.HeapAlloc)-int64(before.HeapAlloc)) / n
		allocB = float64(after.TotalAlloc-before.TotalAlloc) / n
		allocs = float64(after.Mallocs-before.Mallocs) / n
		runtime.KeepAlive(s)
	}
	b.ReportMetric(perKey, "B/key")
	b.ReportMetric(cachePerKey, "cache-B/key")
	b.ReportMetric(allocB, "alloc-B/key")
	b.ReportMetric(allocs, "allocs/key")
}

// BenchmarkColdKey is the first use of a key the server has not seen:
// verify with the key cache and the limiter both missing, so the key, its
// owner and its day count are read from the store. A fresh server is made
// (off the clock) whenever the keys run out.
func BenchmarkColdKey(b *testing.B) {
	kdb := keyDBFor(b, coldKeys)
	ctx, now, tiers := context.Background(), time.Now(), []string{"basic"}
	s := newMemServer(b, kdb.db)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(kdb.raws) {
			b.StopTimer()
			s, i = newMemServer(b, kdb.db), 0
			runtime.GC()
			b.StartTimer()
		}
		if v, err := s.verify(ctx, kdb.raws[i], tiers, now); err != nil || v.code != codeValid {
			b.Fatalf("verify: %v %s", err, v.code)
		}
		i++
	}
}

// BenchmarkColdKeyLookup is lookupKey alone on a key not cached: the store
// reads and the entry it builds.
func BenchmarkColdKeyLookup(b *testing.B) {
	kdb := keyDBFor(b, coldKeys)
	ctx := context.Background()
	hashes := make([]auth.KeyHash, len(kdb.raws))
	for i, raw := range kdb.raws {
		hashes[i] = auth.HashKey(raw)
	}
	s := newMemServer(b, kdb.db)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(hashes) {
			b.StopTimer()
			s, i = newMemServer(b, kdb.db), 0
			runtime.GC()
			b.StartTimer()
		}
		if e, err := s.lookupKey(ctx, hashes[i]); e == nil || err != nil {
			b.Fatalf("lookupKey: %v", err)
		}
		i++
	}
}

// TestPackIDs: id and userID come back equal to what went in, and so
// does the lineage, stored after them only when it is not id; all in one
// allocation.
func TestPackIDs(t *testing.T) {
	long := strings.Repeat("L", 300) // a length that takes two bytes as a uvarint
	for _, c := range []struct{ id, user, lineage string }{
		{"key_a", "usr_bb", "key_a"},
		{"key_a", "usr_bb", "key_first"},
		{"key_a", "usr_bb", ""},
		{"key_a", "usr_bb", long},
		{"", "", "x"},
		{"", "usr", ""},
		{"k", "", "k"},
	} {
		id, user, rotated := packIDs(c.id, c.user, c.lineage)
		if id != c.id || user != c.user || rotated != (c.lineage != c.id) {
			t.Fatalf("packIDs(%q, %q, %q) = %q, %q, %v", c.id, c.user, c.lineage, id, user, rotated)
		}
		if rotated {
			if got := lineageAfter(id, user); got != c.lineage {
				t.Fatalf("lineage of %q: %q", c, got)
			}
		}
		e := newKeyEntry(storage.APIKey{ID: c.id, UserID: c.user, Lineage: c.lineage}, storage.User{}, nil)
		if e.id != c.id || e.userID != c.user || e.lineage() != c.lineage || e.useID() != c.id {
			t.Fatalf("entry for %q: %q, %q, %q", c, e.id, e.userID, e.lineage())
		}
	}
}

// TestKeyEntryShares: an entry holds the tier table's copy of its tier
// name, and the owner's tiers only as whether they hold the key's.
func TestKeyEntryShares(t *testing.T) {
	tiers, err := newTiers(map[string]limiter.Limits{"basic": {PerMinute: 1, PerDay: 1}, "pro": {PerMinute: 1, PerDay: 1}})
	if err != nil {
		t.Fatal(err)
	}
	k := storage.APIKey{ID: "key_a", UserID: "usr_a", Lineage: "key_a", Tier: string([]byte("pro"))}
	e := newKeyEntry(k, storage.User{ID: "usr_a", Tiers: []string{"basic", "pro"}}, tiers)
	if e.tier != "pro" || unsafe.StringData(e.tier) != unsafe.StringData(tiers["pro"].name) || !e.ownerHasTier() {
		t.Fatalf("entry tier %q (shared: %v), owner has it: %v", e.tier, unsafe.StringData(e.tier) == unsafe.StringData(tiers["pro"].name), e.ownerHasTier())
	}
	e = newKeyEntry(k, storage.User{ID: "usr_a", Tiers: []string{"basic"}}, tiers)
	if e.ownerHasTier() {
		t.Fatal("owner without the key's tier holds it")
	}
	k.Tier = "gold" // no longer configured
	if e = newKeyEntry(k, storage.User{ID: "usr_a", Tiers: []string{"gold"}}, tiers); e.tier != "gold" || !e.ownerHasTier() {
		t.Fatalf("unconfigured tier: %q, owner has it: %v", e.tier, e.ownerHasTier())
	}
}

// TestKeyEntrySize guards the memory a server spends per active key in
// the key cache: the entry fits a 96-byte size class.
func TestKeyEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(keyEntry{}); n > 96 {
		t.Fatalf("keyEntry is %d bytes, want at most 96", n)
	}
}

// BenchmarkWarmKeysVerify is verify over memKeys warm keys in a random
// order, as the scale scenario draws them: the cost of the key cache and
// the limiter when their working set is far larger than the CPU's caches.
func BenchmarkWarmKeysVerify(b *testing.B) {
	kdb := keyDBFor(b, memKeys)
	ctx, now, tiers := context.Background(), time.Now(), []string{"basic"}
	s := newMemServer(b, kdb.db)
	for _, raw := range kdb.raws {
		if v, err := s.verify(ctx, raw, tiers, now); err != nil || v.code != codeValid {
			b.Fatalf("verify: %v %s", err, v.code)
		}
	}
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(kdb.raws))
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if v, err := s.verify(ctx, kdb.raws[order[i]], tiers, now); err != nil || v.code != codeValid {
			b.Fatalf("verify: %v %s", err, v.code)
		}
		if i++; i == len(order) {
			i = 0
		}
	}
}
