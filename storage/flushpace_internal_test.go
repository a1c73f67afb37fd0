package storage

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A flush calls the batch's Pace at least once a record, so a server can
// pause it anywhere (issue 6: chat p99 during a flush), and a Pace that
// sleeps changes nothing that is written.
func TestFlush_Paces(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	today := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	usage := randomUsage(rand.New(rand.NewPCG(3, 4)), 5000, today)
	calls := 0
	pace := func() {
		if calls++; calls%1000 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if err := db.Flush(ctx, Batch{Usage: usage, Pace: pace}); err != nil {
		t.Fatal(err)
	}
	if calls < 2*len(usage) { // grouping, then writing
		t.Errorf("Pace called %d times for %d counts, want at least %d", calls, len(usage), 2*len(usage))
	}
	for _, u := range usage[:50] {
		if n, err := db.UsageCount(ctx, u.Lineage, today); err != nil || n != u.Count {
			t.Fatalf("UsageCount(%s) = %d, %v; want %d", u.Lineage, n, err, u.Count)
		}
	}
}

// A day's blobs arrive at random, a few thousand new lineages a flush, and
// every flush rewrites what grew: the pages stay well filled. With
// FillPercent 1 each insert into a full page split it into a full page and
// a near-empty one, and a dense flush wrote 70% more pages (issue 6).
func TestFlush_PagesStayFull(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	r := rand.New(rand.NewPCG(5, 6))
	today := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	usage := make([]Usage, 40_000)
	for i := range usage {
		usage[i] = Usage{Lineage: randomID(r), Day: today, Count: 1}
	}
	for i := 0; i < len(usage); i += 2000 { // first uses, as they come
		if err := db.Flush(ctx, Batch{Usage: usage[i : i+2000]}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range usage {
		usage[i].Count = 2
	}
	if err := db.Flush(ctx, Batch{Usage: usage}); err != nil { // a busy second: every blob grows
		t.Fatal(err)
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		s := tx.Bucket(bucketUsage).Stats()
		if fill := float64(s.LeafInuse) / float64(s.LeafAlloc); fill < 0.55 {
			t.Errorf("daily_usage leaf pages %.0f%% full (%d pages), want at least 55%%", 100*fill, s.LeafPageN)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
