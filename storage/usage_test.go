package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/keygate/keygate/storage"
)

// day returns midnight UTC of 2026-11-d.
func day(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }

func TestDB_Flush_Usage(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		batches [][]storage.Usage
		want    int64 // UsageCount("k1", day(26))
	}{
		{"none", nil, 0},
		{"one", [][]storage.Usage{{{Lineage: "k1", Day: day(26), Count: 5}}}, 5},
		{"grows", [][]storage.Usage{{{Lineage: "k1", Day: day(26), Count: 5}}, {{Lineage: "k1", Day: day(26), Count: 7}}}, 7},
		{"stale batch ignored", [][]storage.Usage{{{Lineage: "k1", Day: day(26), Count: 7}}, {{Lineage: "k1", Day: day(26), Count: 5}}}, 7},
		{"replay harmless", [][]storage.Usage{{{Lineage: "k1", Day: day(26), Count: 7}}, {{Lineage: "k1", Day: day(26), Count: 7}}}, 7},
		{"max within a batch", [][]storage.Usage{{{Lineage: "k1", Day: day(26), Count: 9}, {Lineage: "k1", Day: day(26), Count: 3}}}, 9},
		{"time of day ignored", [][]storage.Usage{{{Lineage: "k1", Day: day(26).Add(23 * time.Hour), Count: 4}}}, 4},
		{"day is the UTC day", [][]storage.Usage{{{Lineage: "k1", Day: time.Date(2026, 11, 27, 1, 0, 0, 0, time.FixedZone("+02", 2*3600)), Count: 3}}}, 3},
		{"other lineage and day apart", [][]storage.Usage{{{Lineage: "k2", Day: day(26), Count: 4}, {Lineage: "k1", Day: day(25), Count: 4}}}, 0},
		{"negative ignored", [][]storage.Usage{{{Lineage: "k1", Day: day(26), Count: -1}}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			for _, b := range tc.batches {
				if err := db.Flush(ctx, b, nil); err != nil {
					t.Fatal(err)
				}
			}
			got, err := reopen(t, db).UsageCount(ctx, "k1", day(26))
			if err != nil || got != tc.want {
				t.Errorf("UsageCount = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestDB_Flush_Errors(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		usage   []storage.Usage
		wantErr error
	}{
		{"empty batch starts no transaction", cancelled, nil, nil},
		{"cancelled", cancelled, []storage.Usage{{Lineage: "k1", Day: day(26), Count: 1}}, context.Canceled},
		{"empty lineage", ctx, []storage.Usage{{Lineage: "k1", Day: day(26), Count: 1}, {Day: day(26), Count: 1}}, storage.ErrInvalid},
		{"slash in lineage", ctx, []storage.Usage{{Lineage: "k/1", Day: day(26), Count: 1}}, storage.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.Flush(tc.ctx, tc.usage, nil); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if n, _ := db.UsageCount(ctx, "k1", day(26)); n != 0 {
				t.Errorf("failed batch stored count %d", n)
			}
		})
	}
}

func TestDB_Flush_LastUsed(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		batches [][]storage.LastUsed
		want    time.Time
	}{
		{"never", nil, time.Time{}},
		{"set", [][]storage.LastUsed{{{KeyID: "k1", At: t0}}}, t0},
		{"later wins", [][]storage.LastUsed{{{KeyID: "k1", At: t0}}, {{KeyID: "k1", At: t0.Add(time.Second)}}}, t0.Add(time.Second)},
		{"earlier ignored", [][]storage.LastUsed{{{KeyID: "k1", At: t0}}, {{KeyID: "k1", At: t0.Add(-time.Second)}}}, t0},
		{"unknown key skipped", [][]storage.LastUsed{{{KeyID: "gone", At: t0}, {KeyID: "k1", At: t0}}}, t0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.CreateAPIKey(ctx, testKey("k1", "u1", t0), 0, t0); err != nil {
				t.Fatal(err)
			}
			for _, b := range tc.batches {
				if err := db.Flush(ctx, nil, b); err != nil {
					t.Fatal(err)
				}
			}
			k, err := reopen(t, db).APIKeyByID(ctx, "k1")
			if err != nil || !k.LastUsedAt.Equal(tc.want) {
				t.Errorf("LastUsedAt = %v, %v; want %v", k.LastUsedAt, err, tc.want)
			}
		})
	}
}

func TestDB_UsageRange(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	batch := []storage.Usage{
		{Lineage: "k1", Day: day(1), Count: 1},
		{Lineage: "k1", Day: day(3), Count: 3},
		{Lineage: "k1", Day: day(4), Count: 4},
		{Lineage: "k1", Day: day(30), Count: 30},
		{Lineage: "k10", Day: day(3), Count: 99}, // shares the "k1" byte prefix
		{Lineage: "k", Day: day(3), Count: 98},
	}
	if err := db.Flush(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     []int64
	}{
		{"inclusive ends", day(1), day(4), []int64{1, 3, 4}},
		{"gaps skipped", day(2), day(29), []int64{3, 4}},
		{"single day", day(3), day(3), []int64{3}},
		{"times of day ignored", day(3).Add(23 * time.Hour), day(4).Add(time.Minute), []int64{3, 4}},
		{"from after to", day(4), day(3), []int64{}},
		{"nothing stored", day(10), day(20), []int64{}},
		{"all", day(1), day(30), []int64{1, 3, 4, 30}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.UsageRange(ctx, "k1", tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			counts := []int64{}
			for _, u := range got {
				if u.Lineage != "k1" || u.Day != day(int(u.Count)) {
					t.Errorf("usage %+v: wrong lineage or day", u)
				}
				counts = append(counts, u.Count)
			}
			if !reflect.DeepEqual(counts, tc.want) {
				t.Errorf("counts = %v, want %v", counts, tc.want)
			}
		})
	}
}

func TestDB_Persistence(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	steps := []error{
		db.CreateUser(ctx, testUser("u1", "ann@example.com")),
		db.CreateAPIKey(ctx, testKey("k1", "u1", t0), 0, t0),
		db.CreateSession(ctx, testSession("s1", "u1")),
		db.Flush(ctx, []storage.Usage{{Lineage: "k1", Day: day(26), Count: 42}}, []storage.LastUsed{{KeyID: "k1", At: t0}}),
	}
	secret, err := db.Secret(ctx, "jwt", func() ([]byte, error) { return []byte("secret"), nil })
	steps = append(steps, err)
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}

	db = reopen(t, db)
	u, errU := db.UserByEmail(ctx, "ann@example.com")
	k, errK := db.APIKeyByHash(ctx, testKey("k1", "u1", t0).Hash)
	s, errS := db.SessionByID(ctx, "s1")
	n, errN := db.UsageCount(ctx, "k1", day(26))
	sec, errSec := db.Secret(ctx, "jwt", func() ([]byte, error) { return []byte("other"), nil })
	if err := errors.Join(errU, errK, errS, errN, errSec); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s %s %v %s %d %s", u.ID, k.ID, k.LastUsedAt.Equal(t0), s.ID, n, sec)
	if want := fmt.Sprintf("u1 k1 true s1 42 %s", secret); got != want {
		t.Errorf("after reopen: %q, want %q", got, want)
	}
}

func BenchmarkFlush(b *testing.B) {
	ctx := context.Background()
	db := openTestDB(b)
	batch := make([]storage.Usage, 1000)
	for i := range batch {
		batch[i] = storage.Usage{Lineage: fmt.Sprintf("k%d", i), Day: day(26)}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			batch[i].Count++ // counts only grow, so every entry is written
		}
		if err := db.Flush(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
}
