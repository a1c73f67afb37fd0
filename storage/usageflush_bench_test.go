package storage_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keygate/keygate/storage"
)

// BenchmarkFlush_Counters measures the flushes of issue 6: 100000 dirty
// daily counters whose blobs are already stored ("dense"), and 1000 dirty
// counters of a day with 1000000 stored ("sparse", the write amplification
// case of usageShards). Each flush raises every count, so every one is
// written.
func BenchmarkFlush_Counters(b *testing.B) {
	for _, tc := range []struct {
		name          string
		stored, dirty int
	}{{"dense_100k", 100_000, 100_000}, {"sparse_1k_of_1M", 1_000_000, 1_000}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			db := openTestDB(b)
			all := randomUsage(tc.stored)
			if err := db.Flush(ctx, storage.Batch{Usage: all}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			next := 0
			for b.Loop() {
				batch := all[next : next+tc.dirty]
				next = (next + tc.dirty) % tc.stored
				for i := range batch {
					batch[i].Count++
				}
				if err := db.Flush(ctx, storage.Batch{Usage: batch}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// randomUsage returns n counts of day(26) for lineages shaped like key ids
// ("key_" and 20 random characters), in no order.
func randomUsage(n int) []storage.Usage {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	r := rand.New(rand.NewPCG(6, 6))
	out := make([]storage.Usage, n)
	for i := range out {
		id := []byte("key_")
		for range 20 {
			id = append(id, alphabet[r.IntN(len(alphabet))])
		}
		out[i] = storage.Usage{Lineage: string(id), Day: day(26), Count: 1}
	}
	return out
}

// BenchmarkFlush_LastUsed measures a flush of the last-used times of
// 100000 keys out of 200000 stored, each already written once: what
// keygate's flusher writes once a minute on a busy server (issue 6).
func BenchmarkFlush_LastUsed(b *testing.B) {
	ctx := context.Background()
	db := openTestDB(b)
	ids := randomUsage(200_000)
	var keys []storage.APIKey
	for i, u := range ids {
		keys = append(keys, storage.APIKey{
			ID: u.Lineage, UserID: "u1", Name: "bench", Prefix: "kg_" + u.Lineage[4:12], Tier: "free",
			Hash: [32]byte{byte(i), byte(i >> 8), byte(i >> 16), 1}, CreatedAt: t0,
		})
	}
	for i := 0; i < len(keys); i += 50_000 {
		if err := db.CreateAPIKeys(ctx, keys[i:i+50_000]); err != nil {
			b.Fatal(err)
		}
	}
	batch := storage.Batch{Keys: make([]storage.LastUsed, 100_000)}
	at := t0
	for i := range batch.Keys {
		batch.Keys[i].ID = ids[i*2].Lineage
	}
	flush := func() {
		at = at.Add(time.Minute) // times only move forward, so every one is written
		for i := range batch.Keys {
			batch.Keys[i].At = at
		}
		if err := db.Flush(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	flush()
	b.ReportAllocs()
	for b.Loop() {
		flush()
	}
}
