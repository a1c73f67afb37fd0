package storage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A file written before the mfa bucket existed opens, gains the bucket,
// and its users can enrol.
func TestOpen_AddsMFABucket(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, User{ID: "u1", Email: "a@example.com", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// Make it look like the previous version's file.
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketMFA) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMFA) == nil {
			t.Error("no mfa bucket after Open")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPendingTOTP(ctx, "u1", []byte("secret")); err != nil {
		t.Errorf("enrol in the old file: %v", err)
	}
}
