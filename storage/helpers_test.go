package storage_test

import (
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keygate/keygate/storage"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 11, 26, 18, 46, 25, 0, time.UTC)

// openTestDB opens a fresh database in t.TempDir() with NoSync. On cleanup it
// closes the database and runs bbolt's consistency check on the file.
func openTestDB(t testing.TB) *storage.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keygate.db")
	db, err := storage.Open(path, storage.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkFile(t, path)
	})
	return db
}

// reopen closes db and opens its file again; the new handle is closed on cleanup.
func reopen(t testing.TB, db *storage.DB) *storage.DB {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db2, err := storage.Open(db.Path(), storage.Options{NoSync: true})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() {
		if err := db2.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db2
}

// checkFile opens path read-only and fails t on any consistency error.
func checkFile(t testing.TB, path string) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Errorf("check: open %s: %v", path, err)
		return
	}
	defer bdb.Close()
	err = bdb.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Errorf("check: %v", err)
	}
}

// testKey returns a valid key owned by userID whose hash is derived from id.
func testKey(id, userID string, created time.Time) storage.APIKey {
	return storage.APIKey{
		ID: id, UserID: userID, Name: "key " + id, Prefix: "kg_" + id, Tier: "free",
		Hash: sha256.Sum256([]byte("raw-" + id)), CreatedAt: created,
	}
}

// testSession returns a valid live session of userID expiring a day after t0.
func testSession(id, userID string) storage.Session {
	return storage.Session{
		ID: id, UserID: userID, RefreshID: "r0-" + id, CreatedAt: t0, LastUsedAt: t0,
		ExpiresAt: t0.Add(24 * time.Hour), UserAgent: "test", IP: "127.0.0.1",
	}
}
