package server

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/internal/pace"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/storage"
)

// flushFixture is a server with n keys of one user, each used once.
type flushFixture struct {
	s    *Server
	path string
	now  time.Time
	keys []storage.APIKey
	used []*keyEntry // the entry of each of keys, whose use requests set
}

func newFlushFixture(t *testing.T, n int) *flushFixture {
	t.Helper()
	f := &flushFixture{path: filepath.Join(t.TempDir(), "k.db"), now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	db, err := storage.Open(f.path, storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.s.db.Close() })
	f.s, err = New(Config{
		Tiers:   map[string]limiter.Limits{"basic": {PerMinute: 10, PerDay: 100}},
		Now:     func() time.Time { return f.now },
		IdleTTL: 10 * time.Minute,
	}, db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.CreateUser(ctx, storage.User{ID: "usr_1", Email: "a@b.io", Role: "user", Tiers: []string{"basic"}, CreatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		raw, hash, display, err := auth.NewKey("kg_live_", nil)
		if err != nil {
			t.Fatal(err)
		}
		k := storage.APIKey{ID: fmt.Sprintf("key_%03d", i), UserID: "usr_1", Name: "k", Prefix: display, Tier: "basic", Hash: hash, CreatedAt: f.now}
		if err := db.CreateAPIKey(ctx, k, 0, f.now); err != nil {
			t.Fatal(err)
		}
		k.Lineage = k.ID
		f.keys = append(f.keys, k)
		f.s.known.add(hash) // stored behind the server's back
		if v, err := f.s.verify(ctx, raw, []string{"basic"}, f.now); err != nil || v.code != codeValid {
			t.Fatalf("verify: %v, %v", v.code, err)
		}
		e, _, _ := f.s.keys.get(hash)
		f.s.keys.dirty.touch(e, f.now.UnixNano())
		f.used = append(f.used, e)
	}
	return f
}

// Idle keys and limiters leave memory once their counts are on disk.
func TestFlush_EvictsIdleKeys(t *testing.T) {
	f := newFlushFixture(t, 50)
	ctx := context.Background()
	if err := f.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if f.s.keys.len() != 50 || f.s.limits.Len() != 50 {
		t.Fatalf("held %d keys, %d limiters; want 50 each while in use", f.s.keys.len(), f.s.limits.Len())
	}
	f.now = f.now.Add(11 * time.Minute)
	if err := f.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if f.s.keys.len() != 0 || f.s.limits.Len() != 0 {
		t.Errorf("after idling: %d keys, %d limiters held; want 0", f.s.keys.len(), f.s.limits.Len())
	}
	for _, k := range f.keys {
		n, err := f.s.db.UsageCount(ctx, k.Lineage, f.now)
		if err != nil || n != 1 {
			t.Fatalf("count of %s = %d, %v", k.ID, n, err)
		}
	}
}

// The flush each second walks the key cache and the limiter for idle
// entries only every evictEvery: at a million keys a walk costs tens of
// milliseconds, and an entry idle for IdleTTL can wait a minute more.
func TestFlush_EvictsEveryFewFlushes(t *testing.T) {
	f := newFlushFixture(t, 5)
	used := f.now // every key's last use
	ctx := context.Background()
	c := &countingPacer{}
	f.s.pace = func() pacer { return c }
	flush := func() int {
		t.Helper()
		c.steps = 0
		if err := f.s.flush(ctx, false); err != nil {
			t.Fatal(err)
		}
		return c.steps
	}
	if n := flush(); n == 0 {
		t.Fatal("the first flush walked nothing")
	}
	every := f.s.evictEvery()
	if every > time.Minute {
		t.Fatalf("evictEvery = %v; Config.IdleTTL promises eviction at most a minute late", every)
	}
	for at := time.Second; at < every; at += time.Second {
		f.now = f.now.Add(time.Second)
		if n := flush(); n != 0 {
			t.Fatalf("a flush %v after the last walk stepped %d times, want none", at, n)
		}
	}
	f.now = f.now.Add(time.Second)
	if n := flush(); n < keyShards {
		t.Fatalf("a flush %v after the last walk stepped %d times, want a walk (%d)", every, n, keyShards)
	}
	// With a flush a second, the keys stay until they have been idle for
	// IdleTTL, and are gone at most evictEvery after that.
	ttl := f.s.cfg.IdleTTL
	for f.now.Before(used.Add(ttl + every)) {
		f.now = f.now.Add(time.Second)
		flush()
		held := f.s.keys.len() + f.s.limits.Len()
		if idle := f.now.Sub(used); idle < ttl && held != 2*len(f.keys) {
			t.Fatalf("idle %v, under IdleTTL: %d keys and limiters held, want %d", idle, held, 2*len(f.keys))
		}
	}
	if f.s.keys.len() != 0 || f.s.limits.Len() != 0 {
		t.Errorf("idle IdleTTL plus %v: %d keys, %d limiters held; want 0", every, f.s.keys.len(), f.s.limits.Len())
	}
}

// A flush that cannot commit keeps its batch for the next one and evicts
// nothing meanwhile, so no count is lost.
func TestFlush_FailureKeepsCounts(t *testing.T) {
	f := newFlushFixture(t, 3)
	ctx := context.Background()
	if err := f.s.db.Close(); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	if err := f.s.Flush(ctx); err == nil {
		t.Fatal("flush to a closed database succeeded")
	}
	if f.s.keys.len() != 3 || f.s.limits.Len() != 3 {
		t.Fatalf("evicted after a failed flush: %d keys, %d limiters", f.s.keys.len(), f.s.limits.Len())
	}
	db, err := storage.Open(f.path, storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	f.s.db = db
	if err := f.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range f.keys {
		n, err := db.UsageCount(ctx, k.Lineage, f.now.Add(-time.Hour))
		if err != nil || n != 1 {
			t.Errorf("count of %s = %d, %v; want 1", k.ID, n, err)
		}
		got, err := db.APIKeyByID(ctx, k.ID)
		if err != nil || got.LastUsedAt.IsZero() {
			t.Errorf("last used of %s = %v, %v", k.ID, got.LastUsedAt, err)
		}
	}
}

// The audit log is pruned past its configured size.
func TestFlush_PrunesAudit(t *testing.T) {
	f := newFlushFixture(t, 0)
	f.s.cfg.AuditMaxEvents = 3
	ctx := context.Background()
	for i := range 5 {
		if _, err := f.s.db.AppendEvent(ctx, storage.Event{Time: f.now, Action: "user.login", TargetID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := f.s.db.Events(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || events[0].TargetID != "4" {
		t.Errorf("after pruning: %+v", events)
	}
}

// storedLastUsed is key i's last use as the database holds it.
func (f *flushFixture) storedLastUsed(t *testing.T, i int) time.Time {
	t.Helper()
	k, err := f.s.db.APIKeyByID(context.Background(), f.keys[i].ID)
	if err != nil {
		t.Fatal(err)
	}
	return k.LastUsedAt
}

// A periodic flush writes a last-used time only once it moved by
// lastUseGranularity, or stopped moving for that long; Flush, the last
// flush at shutdown, writes every one (issue 6).
func TestFlush_LastUsedGranularity(t *testing.T) {
	f := newFlushFixture(t, 3)
	ctx := context.Background()
	start := f.now
	if err := f.s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	for i := range f.keys {
		if got := f.storedLastUsed(t, i); !got.Equal(start) {
			t.Fatalf("first use of key %d stored as %v, want %v", i, got, start)
		}
	}
	// Key 0 moves by less than the granularity, key 1 by exactly it, key 2
	// not at all.
	f.now = start.Add(lastUseGranularity - time.Second)
	f.s.keys.dirty.touch(f.used[0], f.now.UnixNano())
	f.s.keys.dirty.touch(f.used[1], start.Add(lastUseGranularity).UnixNano())
	if err := f.s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	want := []time.Time{start, start.Add(lastUseGranularity), start}
	for i := range want {
		if got := f.storedLastUsed(t, i); !got.Equal(want[i]) {
			t.Errorf("after a periodic flush, key %d stored %v, want %v", i, got, want[i])
		}
	}
	if f.s.keys.dirty.len() != 1 {
		t.Errorf("%d uses pending, want key 0's", f.s.keys.dirty.len())
	}
	// The shutdown flush writes what is pending.
	if err := f.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.storedLastUsed(t, 0); !got.Equal(f.now) {
		t.Errorf("after Flush, key 0 stored %v, want %v", got, f.now)
	}
}

// A key dropped from the cache (revoked, rotated, owner changed) has its
// pending use written by the next periodic flush: the API reads it from
// the store from then on.
func TestFlush_LastUsedOfDroppedKey(t *testing.T) {
	f := newFlushFixture(t, 2)
	ctx := context.Background()
	if err := f.s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	used := f.now.Add(time.Second)
	for i := range f.keys {
		f.s.keys.dirty.touch(f.used[i], used.UnixNano())
	}
	f.now = used
	f.s.keys.invalidate(f.keys[0].Hash)
	if err := f.s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := f.storedLastUsed(t, 0); !got.Equal(used) {
		t.Errorf("dropped key stored %v, want %v", got, used)
	}
	if got := f.storedLastUsed(t, 1); got.Equal(used) {
		t.Errorf("a cached key's use within the granularity was written")
	}
	f.s.keys.invalidateUser("usr_1")
	if err := f.s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := f.storedLastUsed(t, 1); !got.Equal(used) {
		t.Errorf("key of a changed owner stored %v, want %v", got, used)
	}
}

// A use that stops moving is written by a periodic flush once it has been
// still for lastUseGranularity, so an idle key still leaves memory.
func TestFlush_LastUsedSettles(t *testing.T) {
	f := newFlushFixture(t, 1)
	f.s.cfg.IdleTTL = time.Minute
	ctx := context.Background()
	if err := f.s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	used := f.now.Add(10 * time.Second)
	f.s.keys.dirty.touch(f.used[0], used.UnixNano())
	f.now = used.Add(lastUseGranularity - time.Nanosecond)
	if err := f.s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := f.storedLastUsed(t, 0); got.Equal(used) {
		t.Fatalf("use still moving within the granularity was written")
	}
	f.now = used.Add(lastUseGranularity + 2*time.Minute)
	if err := f.s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := f.storedLastUsed(t, 0); !got.Equal(used) {
		t.Errorf("settled use stored as %v, want %v", got, used)
	}
	if f.s.keys.len() != 0 {
		t.Errorf("idle key still held after its use was written")
	}
}

// len is the number of uses waiting for the flusher.
func (d *markList[T]) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.items)
}

// A written batch keeps its arrays for the next one, but none of the ids
// in them: they would hold a string for every key used in the last second.
func TestFlush_KeepsNoIDs(t *testing.T) {
	f := newFlushFixture(t, 20)
	if err := f.s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := f.s.pending
	if cap(b.Usage) == 0 || cap(b.Keys) == 0 {
		t.Fatalf("batch arrays not kept: cap(Usage)=%d cap(Keys)=%d", cap(b.Usage), cap(b.Keys))
	}
	for i, u := range b.Usage[:cap(b.Usage)] {
		if u.Lineage != "" {
			t.Fatalf("Usage[%d] still holds %q", i, u.Lineage)
		}
	}
	for i, lu := range b.Keys[:cap(b.Keys)] {
		if lu.ID != "" {
			t.Fatalf("Keys[%d] still holds %q", i, lu.ID)
		}
	}
}

// A batch whose array of last-used times grew large lets it go once
// written (times fall due about once a minute a key, so it would sit idle
// on the heap between), and still writes every time it held.
func TestFlush_LetsLargeLastUsedGo(t *testing.T) {
	f := newFlushFixture(t, 3)
	f.s.pending.Keys = make([]storage.LastUsed, 0, keptLastUsed+1)
	if err := f.s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := cap(f.s.pending.Keys); c != 0 {
		t.Errorf("a written array of %d last-used times kept", c)
	}
	if cap(f.s.pending.Usage) == 0 {
		t.Errorf("the counters' array was not kept")
	}
	for i := range f.keys {
		if got := f.storedLastUsed(t, i); !got.Equal(f.now) {
			t.Errorf("key %d stored %v, want %v", i, got, f.now)
		}
	}
}

// countingPacer counts what a flush paces.
type countingPacer struct{ ticks, steps int }

func (c *countingPacer) Tick() { c.ticks++ }
func (c *countingPacer) Step() { c.steps++ }

// Every step of a flush paces itself, about once a key or more: draining
// the limiter and the last-used times, writing, and evicting. On one core
// a step that did not would hold up every request for its whole length
// (issue 6: chat p99 during flushes).
func TestFlush_Paces(t *testing.T) {
	const n = 300
	f := newFlushFixture(t, n)
	f.now = f.now.Add(2 * time.Minute) // every last-used time is due
	c := &countingPacer{}
	f.s.pace = func() pacer { return c }
	if err := f.s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Draining counts (every 64), last-used times (each), grouping and
	// writing counts (each, twice), checking and writing times (each, twice).
	if want := n/64 + n + 2*n + 2*n; c.ticks < want {
		t.Errorf("a flush of %d keys paced %d times, want at least %d", n, c.ticks, want)
	}
	// Evicting walks the limiter's shards and the key cache's, each a
	// large unit of work: a Tick each let 32 of them pass between two
	// looks at the clock, milliseconds at 100,000 keys.
	if c.steps < keyShards {
		t.Errorf("a flush stepped %d times, want at least one a key cache shard (%d)", c.steps, keyShards)
	}
	for _, k := range f.keys {
		if c, err := f.s.db.UsageCount(context.Background(), k.Lineage, f.now); err != nil || c != 1 {
			t.Fatalf("count of %s = %d, %v; want 1", k.ID, c, err)
		}
	}
}

// BenchmarkFlush_CachedKeys is the periodic flush, once a second, of a
// server holding 100,000 keys and their limiters with nothing new to
// write: what a busy server pays each second beyond writing its counts.
func BenchmarkFlush_CachedKeys(b *testing.B) {
	kdb := keyDBFor(b, memKeys)
	s := newMemServer(b, kdb.db)
	ctx, now, tiers := context.Background(), time.Now(), []string{"basic"}
	s.now = func() time.Time { return now }
	s.pace = func() pacer { return (*pace.Pacer)(nil) } // the work, not the pauses a busy server would add
	for _, raw := range kdb.raws {
		if v, err := s.verify(ctx, raw, tiers, now); err != nil || v.code != codeValid {
			b.Fatalf("verify: %v %s", err, v.code)
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		now = now.Add(time.Second)
		if err := s.flush(ctx, false); err != nil {
			b.Fatal(err)
		}
	}
	if s.keys.len() != memKeys {
		b.Fatalf("%d keys held, want %d", s.keys.len(), memKeys)
	}
}
