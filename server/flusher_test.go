package server

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/storage"
)

// flushFixture is a server with n keys of one user, each used once.
type flushFixture struct {
	s    *Server
	path string
	now  time.Time
	keys []storage.APIKey
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
		if v, err := f.s.verify(ctx, raw, []string{"basic"}, f.now); err != nil || v.code != codeValid {
			t.Fatal(err)
		}
		e, _, _ := f.s.keys.get(hash)
		f.s.keys.dirty.touch(&e.used, f.now.UnixNano())
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
