package storage_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keygate/keygate/storage"
)

func TestOpen_FileMode(t *testing.T) {
	db := openTestDB(t)
	fi, err := os.Stat(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
}

func TestOpen_Locked(t *testing.T) {
	db := openTestDB(t)
	start := time.Now()
	db2, err := storage.Open(db.Path(), storage.Options{Timeout: 100 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil {
		db2.Close()
		t.Fatal("second Open succeeded")
	}
	if !errors.Is(err, storage.ErrLocked) {
		t.Errorf("err = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), db.Path()) {
		t.Errorf("err %q does not name the path", err)
	}
	if elapsed > time.Second {
		t.Errorf("Open took %v with Timeout 100ms", elapsed)
	}
}

func TestOpen_NewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("version"), binary.BigEndian.AppendUint64(nil, 4))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(path, storage.Options{NoSync: true})
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a newer schema version")
	}
	if !strings.Contains(err.Error(), "schema version 4") {
		t.Errorf("err = %v", err)
	}
}

func TestOpen_NotABoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("junk", 2048)), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(path, storage.Options{NoSync: true})
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a junk file")
	}
}

func TestDB_Close_Twice(t *testing.T) {
	db := openTestDB(t)
	for i := range 2 {
		if err := db.Close(); err != nil {
			t.Errorf("Close #%d: %v", i+1, err)
		}
	}
}

func TestDB_Secret(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	calls := 0
	gen := func() ([]byte, error) { calls++; return []byte("s3cret-" + string(rune('a'+calls))), nil }

	first, err := db.Secret(ctx, "jwt", gen)
	if err != nil {
		t.Fatal(err)
	}
	second, err := db.Secret(ctx, "jwt", gen)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != string(second) || calls != 1 {
		t.Errorf("Secret not stable: %q then %q after %d generate calls", first, second, calls)
	}
	other, err := db.Secret(ctx, "other", gen)
	if err != nil {
		t.Fatal(err)
	}
	if string(other) == string(first) {
		t.Errorf("secrets under different names are equal")
	}
	db = reopen(t, db)
	again, err := db.Secret(ctx, "jwt", func() ([]byte, error) { t.Error("generate called after reopen"); return nil, nil })
	if err != nil || string(again) != string(first) {
		t.Errorf("after reopen Secret = %q, %v; want %q", again, err, first)
	}
}

func TestDB_Secret_Errors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ok := func() ([]byte, error) { return []byte("x"), nil }
	tests := []struct {
		name    string
		ctx     context.Context
		secret  string
		gen     func() ([]byte, error)
		wantErr error
	}{
		{"empty name", ctx, "", ok, storage.ErrInvalid},
		{"generate fails", ctx, "jwt", func() ([]byte, error) { return nil, boom }, boom},
		{"empty secret", ctx, "jwt", func() ([]byte, error) { return nil, nil }, storage.ErrInvalid},
		{"cancelled", cancelled, "jwt", ok, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if _, err := db.Secret(tc.ctx, tc.secret, tc.gen); !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestDB_Secret_Concurrent(t *testing.T) {
	db := openTestDB(t)
	const n = 20
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := db.Secret(context.Background(), "jwt", func() ([]byte, error) { return []byte{byte(i + 1)}, nil })
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	wg.Wait()
	for i := range got {
		if string(got[i]) != string(got[0]) {
			t.Fatalf("goroutine %d got %v, goroutine 0 got %v", i, got[i], got[0])
		}
	}
}

func TestDB_CancelledContext(t *testing.T) {
	db := openTestDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]error{
		"CreateUser":    db.CreateUser(ctx, storage.User{ID: "u1", Email: "a@example.com"}),
		"CreateAPIKey":  db.CreateAPIKey(ctx, testKey("k1", "u1", t0), 0, t0),
		"CreateSession": db.CreateSession(ctx, testSession("s1", "u1")),
		"Flush":         db.Flush(ctx, storage.Batch{Usage: []storage.Usage{{Lineage: "k1", Day: t0, Count: 1}}}),
	}
	_, calls["UserByID"] = db.UserByID(ctx, "u1")
	_, calls["APIKeyByID"] = db.APIKeyByID(ctx, "k1")
	_, calls["RevokeAPIKey"] = db.RevokeAPIKey(ctx, "k1", t0)
	_, calls["RotateSession"] = db.RotateSession(ctx, "s1", "a", "b", t0, t0)
	_, calls["Users"] = db.Users(ctx, "", 0)
	_, calls["AllAPIKeys"] = db.AllAPIKeys(ctx)
	_, calls["LiveSessions"] = db.LiveSessions(ctx, t0)
	_, calls["PruneSessions"] = db.PruneSessions(ctx, t0)
	_, calls["AppendEvent"] = db.AppendEvent(ctx, storage.Event{Time: t0, Action: "test"})
	_, calls["Events"] = db.Events(ctx, "", 0)
	_, calls["PruneEvents"] = db.PruneEvents(ctx, 1, time.Time{})
	_, calls["PruneEvents without limits"] = db.PruneEvents(ctx, 0, time.Time{})
	_, calls["SigningKeys"] = db.SigningKeys(ctx)
	calls["AddSigningKey"] = db.AddSigningKey(ctx, storage.SigningKey{ID: "g", Seed: make([]byte, 32), CreatedAt: t0})
	_, calls["EnsureSigningKey"] = db.EnsureSigningKey(ctx, func() (storage.SigningKey, error) {
		return storage.SigningKey{}, errors.New("generate must not be called")
	})
	_, calls["DeleteSigningKeys"] = db.DeleteSigningKeys(ctx, t0)
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", name, err)
		}
	}
}

// A version 1 file, whose usage keys had the lineage first, is migrated on
// Open: every count is still there, read by day.
func TestOpen_MigratesUsageToDayFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		if err := meta.Put([]byte("version"), binary.BigEndian.AppendUint64(nil, 1)); err != nil {
			return err
		}
		usage, err := tx.CreateBucket([]byte("usage"))
		if err != nil {
			return err
		}
		for k, n := range map[string]uint64{"key_a/2026-11-25": 7, "key_a/2026-11-26": 9, "key_b/2026-11-26": 3} {
			if err := usage.Put([]byte(k), binary.BigEndian.AppendUint64(nil, n)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(path, storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	got, err := db.UsageRange(ctx, "key_a", day.AddDate(0, 0, -1), day)
	if err != nil || len(got) != 2 || got[0].Count != 7 || got[1].Count != 9 {
		t.Errorf("key_a = %+v, %v", got, err)
	}
	if n, err := db.UsageCount(ctx, "key_b", day); err != nil || n != 3 {
		t.Errorf("key_b = %d, %v", n, err)
	}
}
