package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/keygate/keygate/storage"
)

// The two reads of GET /v1/keys with an access token (issue 6).

func BenchmarkUserByID(b *testing.B) {
	ctx := context.Background()
	db := openTestDB(b)
	if err := db.CreateUser(ctx, testUser("u1", "a@example.com")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.UserByID(ctx, "u1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAPIKeysByUser(b *testing.B) {
	ctx := context.Background()
	db := openTestDB(b)
	for _, id := range []string{"k1", "k2"} {
		if err := db.CreateAPIKey(ctx, testKey(id, "u1", t0), 0, t0); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Flush(ctx, storage.Batch{Keys: []storage.LastUsed{{ID: "k1", At: t0.Add(time.Minute)}}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if keys, err := db.APIKeysByUser(ctx, "u1"); err != nil || len(keys) != 2 {
			b.Fatal(keys, err)
		}
	}
}
