package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/storage"
)

// BenchmarkVerifyKey is the hot path without HTTP: parse and hash the key,
// find it in memory, check it, its tier and both limits.
func BenchmarkVerifyKey(b *testing.B) {
	db, err := storage.Open(filepath.Join(b.TempDir(), "bench.db"), storage.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := New(Config{Tiers: map[string]limiter.Limits{"basic": {PerMinute: 1 << 30, PerDay: 1 << 50}}}, db, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	if err := db.CreateUser(ctx, storage.User{ID: "usr_bench", Email: "b@example.com", Role: "user", Tiers: []string{"basic"}, CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	raw, hash, display, err := auth.NewKey("kg_live_", nil)
	if err != nil {
		b.Fatal(err)
	}
	k := storage.APIKey{ID: "key_bench", UserID: "usr_bench", Name: "bench", Prefix: display, Tier: "basic", Hash: hash, CreatedAt: now}
	if err := db.CreateAPIKey(ctx, k, 0, now); err != nil {
		b.Fatal(err)
	}
	s.known.add(hash) // made behind the server's back, as its own handlers would tell it
	tiers := []string{"basic"}
	if v, err := s.verify(ctx, raw, tiers, now); err != nil || v.code != codeValid {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if v, err := s.verify(ctx, raw, tiers, now); err != nil || v.code != codeValid {
			b.Fatal(err)
		}
	}
}
