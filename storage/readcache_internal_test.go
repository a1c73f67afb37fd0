package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func cacheUser(id, role string) User {
	return User{ID: id, Email: id + "@example.com", PasswordHash: []byte("h"), Role: role, Tiers: []string{"free"}}
}

// The steps a read and a commit take, in the interleavings that matter.
func TestReadCache_Protocol(t *testing.T) {
	c := newReadCache()
	g, ok := c.generation()
	if !ok {
		t.Fatal("a new cache is bypassed")
	}
	c.putUser(g, cacheUser("u1", "old"))
	if u, ok := c.user(g, "u1"); !ok || u.Role != "old" {
		t.Fatalf("user(g) = %+v, %v; want the stored user", u, ok)
	}

	c.beginCommit() // a commit in progress: reads must neither use nor fill the cache
	if _, ok := c.generation(); ok {
		t.Fatal("generation() allows the cache during a commit")
	}
	c.endCommit()
	g2, ok := c.generation()
	if !ok || g2 == g {
		t.Fatalf("after a commit generation() = %d, %v; want a new generation (old %d)", g2, ok, g)
	}
	if u, ok := c.user(g2, "u1"); ok {
		t.Fatalf("an entry read before the commit is served after it: %+v", u)
	}

	// A read that began before the commit stores after one that began after.
	c.putUser(g2, cacheUser("u1", "new"))
	c.putUser(g, cacheUser("u1", "old"))
	if u, ok := c.user(g2, "u1"); !ok || u.Role != "new" {
		t.Fatalf("user(g2) = %+v, %v; want the user read at g2", u, ok)
	}
	c.putKeys(g, "u1", []APIKey{{ID: "stale"}})
	if keys, ok := c.keysOf(g2, "u1"); ok {
		t.Fatalf("keys stored at an old generation are served: %+v", keys)
	}

	// Overlapping commits: the cache stays off until the last one ends.
	c.beginCommit()
	c.beginCommit()
	c.endCommit()
	if _, ok := c.generation(); ok {
		t.Fatal("generation() allows the cache while a second commit is in progress")
	}
	c.endCommit()
	if _, ok := c.generation(); !ok {
		t.Fatal("the cache stays off after both commits ended")
	}

	c.disable()
	if _, ok := c.generation(); ok {
		t.Fatal("a disabled cache is used")
	}
}

func TestReadCache_Bounded(t *testing.T) {
	c := newReadCache()
	for i := range 20 * cacheShards * maxUsersPerShard {
		c.putUser(0, cacheUser(fmt.Sprintf("u%d", i), "user"))
	}
	key3 := make([]APIKey, 3)
	for i := range 20 * cacheShards * maxKeysPerShard / 3 {
		c.putKeys(0, fmt.Sprintf("u%d", i), key3)
	}
	c.putKeys(0, "u0", make([]APIKey, 7)) // replacing a list counts only the new one
	c.putKeys(0, "big", make([]APIKey, maxKeysPerShard+1))
	users := 0
	for i := range c.shards {
		sh := &c.shards[i]
		n := 0
		for _, keys := range sh.keys {
			n += len(keys)
		}
		if n != sh.nkeys || n > maxKeysPerShard {
			t.Errorf("shard %d holds %d keys, counts %d; at most %d", i, n, sh.nkeys, maxKeysPerShard)
		}
		if len(sh.users) > maxUsersPerShard {
			t.Errorf("shard %d holds %d users; at most %d", i, len(sh.users), maxUsersPerShard)
		}
		users += len(sh.users)
	}
	if users < cacheShards*maxUsersPerShard/2 {
		t.Errorf("only %d users cached; eviction empties shards", users)
	}
	if keys, ok := c.keysOf(0, "u0"); !ok || len(keys) != 7 {
		t.Errorf("keysOf(u0) = %d keys, %v; want the 7 just stored", len(keys), ok)
	}
	if _, ok := c.keysOf(0, "big"); ok {
		t.Error("a list longer than a shard holds was cached")
	}
}

func TestDB_UpdateEndsCachedReads(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	gen := func() uint64 {
		t.Helper()
		g, ok := db.reads.generation()
		if !ok {
			t.Fatal("the cache is left off after a write")
		}
		return g
	}
	g := gen()
	batch := Batch{Usage: []Usage{{Lineage: "k1", Day: time.Now(), Count: 1}}}
	if err := db.Flush(ctx, batch); err != nil { // touches no cached record, commits all the same
		t.Fatal(err)
	}
	if gen() == g {
		t.Error("a committed Flush of usage left the generation")
	}
	g = gen()
	boom := errors.New("boom")
	if err := db.update(ctx, func(*bolt.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("update = %v", err)
	}
	if gen() != g {
		t.Error("a rolled-back update moved the generation")
	}
	func() {
		defer func() { _ = recover() }()
		_ = db.update(ctx, func(*bolt.Tx) error { panic("in fn") })
	}()
	if gen() != g {
		t.Error("a panicking update moved the generation")
	}
}

// TestWritesGoThroughUpdate fails when a file of the package writes the
// database other than through db.update, which keeps the read cache
// coherent. The exceptions are writes no cached read depends on.
func TestWritesGoThroughUpdate(t *testing.T) {
	allowed := map[string]int{
		"db.go": 2, // update itself, and Open's schema set-up before any read
	}
	write := regexp.MustCompile(`\.(Update|Batch|Begin)\(`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(write.FindAll(src, -1)); n > allowed[name] {
			t.Errorf("%s writes the database %d times other than through db.update (allowed %d)", name, n, allowed[name])
		}
	}
}

// The reads after every commit, which miss the cache: what
// BenchmarkUserByID and BenchmarkAPIKeysByUser cost without it, plus
// filling it.

func BenchmarkUserByID_Miss(b *testing.B) {
	db := newDB(b)
	ctx := context.Background()
	if err := db.CreateUser(ctx, cacheUser("u1", "user")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		db.reads.beginCommit() // as a commit would
		db.reads.endCommit()
		if _, err := db.UserByID(ctx, "u1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAPIKeysByUser_Miss(b *testing.B) {
	db := newDB(b)
	ctx := context.Background()
	for _, id := range []string{"k1", "k2"} {
		k := APIKey{ID: id, UserID: "u1", Hash: [32]byte{id[1]}, CreatedAt: time.Unix(0, 0)}
		if err := db.CreateAPIKey(ctx, k, 0, time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		db.reads.beginCommit()
		db.reads.endCommit()
		if keys, err := db.APIKeysByUser(ctx, "u1"); err != nil || len(keys) != 2 {
			b.Fatal(keys, err)
		}
	}
}
