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
				if err := db.Flush(ctx, storage.Batch{Usage: b}); err != nil {
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
		{"day past year 9999", ctx, []storage.Usage{{Lineage: "k1", Day: day(26), Count: 1}, {Lineage: "k2", Day: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Count: 1}}, storage.ErrInvalid},
		{"day before year 1", ctx, []storage.Usage{{Lineage: "k1", Day: day(26), Count: 1}, {Lineage: "k2", Day: time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC), Count: 1}}, storage.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.Flush(tc.ctx, storage.Batch{Usage: tc.usage}); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if n, _ := db.UsageCount(ctx, "k1", day(26)); n != 0 {
				t.Errorf("failed batch stored count %d", n)
			}
		})
	}
}

// TestDB_Flush_LastUsed runs the same cases against keys (created never
// used) and sessions (created with LastUsedAt t0), both with id "x1".
func TestDB_Flush_LastUsed(t *testing.T) {
	ctx := context.Background()
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	tests := []struct {
		name    string
		batches [][]storage.LastUsed
		wantKey time.Time // zero: the key keeps its zero LastUsedAt
	}{
		{"never", nil, time.Time{}},
		{"set", [][]storage.LastUsed{{{ID: "x1", At: t1}}}, t1},
		{"later wins", [][]storage.LastUsed{{{ID: "x1", At: t1}}, {{ID: "x1", At: t2}}}, t2},
		{"earlier ignored", [][]storage.LastUsed{{{ID: "x1", At: t2}}, {{ID: "x1", At: t1}}}, t2},
		{"later within a batch", [][]storage.LastUsed{{{ID: "x1", At: t2}, {ID: "x1", At: t1}}}, t2},
		{"unknown id skipped", [][]storage.LastUsed{{{ID: "gone", At: t1}, {ID: "x1", At: t1}}}, t1},
		{"stored in UTC", [][]storage.LastUsed{{{ID: "x1", At: t1.In(time.FixedZone("+02", 2*3600))}}}, t1},
	}
	for _, kind := range []string{"keys", "sessions"} {
		for _, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				db := openTestDB(t)
				err := errors.Join(
					db.CreateAPIKey(ctx, testKey("x1", "u1", t0), 0, t0),
					db.CreateSession(ctx, testSession("x1", "u1")),
				)
				if err != nil {
					t.Fatal(err)
				}
				for _, entries := range tc.batches {
					b := storage.Batch{Keys: entries}
					if kind == "sessions" {
						b = storage.Batch{Sessions: entries}
					}
					if err := db.Flush(ctx, b); err != nil {
						t.Fatal(err)
					}
				}
				checkLastUsed(t, reopen(t, db), kind, tc.wantKey)
			})
		}
	}
}

// checkLastUsed checks the LastUsedAt of key x1 and session x1 after a
// flush of kind ("keys" or "sessions"): the flushed one must be want (the
// session's creation value t0 if want is zero), the other untouched.
func checkLastUsed(t *testing.T, db *storage.DB, kind string, want time.Time) {
	t.Helper()
	ctx := context.Background()
	k, errK := db.APIKeyByID(ctx, "x1")
	s, errS := db.SessionByID(ctx, "x1")
	if err := errors.Join(errK, errS); err != nil {
		t.Fatal(err)
	}
	wantKey, wantSession := time.Time{}, t0
	if kind == "keys" {
		wantKey = want
	} else if !want.IsZero() {
		wantSession = want
	}
	if !k.LastUsedAt.Equal(wantKey) || k.LastUsedAt.Location() != time.UTC {
		t.Errorf("key LastUsedAt = %v, want %v", k.LastUsedAt, wantKey)
	}
	if !s.LastUsedAt.Equal(wantSession) || s.LastUsedAt.Location() != time.UTC {
		t.Errorf("session LastUsedAt = %v, want %v", s.LastUsedAt, wantSession)
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
	if err := db.Flush(ctx, storage.Batch{Usage: batch}); err != nil {
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
		db.Flush(ctx, storage.Batch{
			Usage:    []storage.Usage{{Lineage: "k1", Day: day(26), Count: 42}},
			Keys:     []storage.LastUsed{{ID: "k1", At: t0}},
			Sessions: []storage.LastUsed{{ID: "s1", At: t0.Add(time.Minute)}},
		}),
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
	got := fmt.Sprintf("%s %s %v %s %v %d %s", u.ID, k.ID, k.LastUsedAt.Equal(t0), s.ID, s.LastUsedAt.Equal(t0.Add(time.Minute)), n, sec)
	if want := fmt.Sprintf("u1 k1 true s1 true 42 %s", secret); got != want {
		t.Errorf("after reopen: %q, want %q", got, want)
	}
}

// BenchmarkFlush measures one flush of 1000 usage counts ("usage"), and of
// 1000 counts plus 100 key and 100 session last-use times ("mixed").
func BenchmarkFlush(b *testing.B) {
	ctx := context.Background()
	for _, n := range []struct {
		name           string
		keys, sessions int
	}{{"usage", 0, 0}, {"mixed", 100, 100}} {
		b.Run(n.name, func(b *testing.B) {
			db := openTestDB(b)
			batch := benchBatch(b, db, 1000, n.keys, n.sessions)
			at := t0
			b.ReportAllocs()
			for b.Loop() {
				at = at.Add(time.Second) // times only move forward, so every entry is written
				for i := range batch.Usage {
					batch.Usage[i].Count++ // counts only grow, so every entry is written
				}
				for i := range batch.Keys {
					batch.Keys[i].At = at
				}
				for i := range batch.Sessions {
					batch.Sessions[i].At = at
				}
				if err := db.Flush(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchBatch creates nKeys keys and nSessions sessions in db and returns a
// batch with nUsage lineages and an entry for each of them.
func benchBatch(b *testing.B, db *storage.DB, nUsage, nKeys, nSessions int) storage.Batch {
	b.Helper()
	ctx := context.Background()
	var batch storage.Batch
	for i := range nUsage {
		batch.Usage = append(batch.Usage, storage.Usage{Lineage: fmt.Sprintf("k%d", i), Day: day(26)})
	}
	for i := range nKeys {
		id := fmt.Sprintf("k%d", i)
		if err := db.CreateAPIKey(ctx, testKey(id, "u1", t0), 0, t0); err != nil {
			b.Fatal(err)
		}
		batch.Keys = append(batch.Keys, storage.LastUsed{ID: id})
	}
	for i := range nSessions {
		id := fmt.Sprintf("s%d", i)
		if err := db.CreateSession(ctx, testSession(id, "u1")); err != nil {
			b.Fatal(err)
		}
		batch.Sessions = append(batch.Sessions, storage.LastUsed{ID: id})
	}
	return batch
}

// A batch far larger than one yield interval, in no order and over two
// days, stores every count (issue 6: keys and values share buffers).
func TestDB_Flush_LargeBatch(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	var batch storage.Batch
	for i := range 3000 {
		batch.Usage = append(batch.Usage, storage.Usage{Lineage: fmt.Sprintf("key_%d", (i*7919)%3000), Day: day(25 + i%2), Count: int64(i + 1)})
	}
	if err := db.Flush(ctx, batch); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db)
	for _, u := range batch.Usage {
		if got, err := db.UsageCount(ctx, u.Lineage, u.Day); err != nil || got != u.Count {
			t.Fatalf("UsageCount(%s, %v) = %d, %v; want %d", u.Lineage, u.Day, got, err, u.Count)
		}
	}
}
