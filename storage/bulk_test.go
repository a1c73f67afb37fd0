package storage_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/keygate/keygate/storage"
)

// bulkUser is testUser with an email derived from id.
func bulkUser(id string) storage.User { return testUser(id, id+"@example.com") }

func TestDB_CreateUsers(t *testing.T) {
	ctx := context.Background()
	dupEmail := bulkUser("u9")
	dupEmail.Email = "u1@example.com"
	tests := []struct {
		name    string
		users   []storage.User
		wantErr error
	}{
		{"existing id", []storage.User{bulkUser("u8"), bulkUser("u1")}, storage.ErrConflict},
		{"existing email", []storage.User{bulkUser("u8"), dupEmail}, storage.ErrConflict},
		{"id twice in batch", []storage.User{bulkUser("u8"), bulkUser("u8")}, storage.ErrConflict},
		{"empty id", []storage.User{bulkUser("u8"), bulkUser("")}, storage.ErrInvalid},
		{"slash in id", []storage.User{bulkUser("u/8")}, storage.ErrInvalid},
		{"empty batch", nil, nil},
		{"ok", []storage.User{bulkUser("u8"), bulkUser("u9")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.CreateUser(ctx, bulkUser("u1")); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			err := db.CreateUsers(ctx, tc.users)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("CreateUsers = %v, want %v", err, tc.wantErr)
			}
			for _, u := range tc.users {
				_, err := db.UserByEmail(ctx, u.Email)
				stored := err == nil && u.Email != "u1@example.com"
				if want := tc.wantErr == nil; stored != want {
					t.Errorf("user %q stored = %v, want %v (all or nothing)", u.ID, stored, want)
				}
			}
		})
	}
}

func TestDB_CreateAPIKeys(t *testing.T) {
	ctx := context.Background()
	dupHash := testKey("k9", "u1", t0)
	dupHash.Hash = testKey("k1", "u1", t0).Hash
	tests := []struct {
		name    string
		keys    []storage.APIKey
		wantErr error
	}{
		{"existing id", []storage.APIKey{testKey("k8", "u1", t0), testKey("k1", "u2", t0)}, storage.ErrConflict},
		{"existing hash", []storage.APIKey{testKey("k8", "u1", t0), dupHash}, storage.ErrConflict},
		{"id twice in batch", []storage.APIKey{testKey("k8", "u1", t0), testKey("k8", "u1", t0)}, storage.ErrConflict},
		{"zero hash", []storage.APIKey{{ID: "k8", UserID: "u1"}}, storage.ErrInvalid},
		{"empty user", []storage.APIKey{testKey("k8", "", t0)}, storage.ErrInvalid},
		{"empty batch", nil, nil},
		{"ok", []storage.APIKey{testKey("k8", "u1", t0), testKey("k9", "u2", t0)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.CreateAPIKey(ctx, testKey("k1", "u1", t0), 0, t0); err != nil {
				t.Fatalf("CreateAPIKey: %v", err)
			}
			err := db.CreateAPIKeys(ctx, tc.keys)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("CreateAPIKeys = %v, want %v", err, tc.wantErr)
			}
			for _, k := range tc.keys {
				if k.ID == "k1" || k.Hash == ([32]byte{}) {
					continue
				}
				got, err := db.APIKeyByHash(ctx, k.Hash)
				stored := err == nil && got.ID == k.ID
				if want := tc.wantErr == nil; stored != want {
					t.Errorf("key %q stored = %v, want %v (all or nothing)", k.ID, stored, want)
				}
				if stored && got.Lineage != k.ID {
					t.Errorf("key %q lineage = %q, want its id", k.ID, got.Lineage)
				}
			}
		})
	}
}

func ExampleDB_CreateAPIKeys() {
	dir, err := os.MkdirTemp("", "keygate")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := storage.Open(filepath.Join(dir, "keygate.db"), storage.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// One transaction (one fsync) per call, however many records it holds.
	ctx := context.Background()
	users := []storage.User{
		{ID: "usr_1", Email: "one@example.com", Role: "user", Tiers: []string{"basic"}},
		{ID: "usr_2", Email: "two@example.com", Role: "user", Tiers: []string{"basic"}},
	}
	keys := []storage.APIKey{
		{ID: "key_1", UserID: "usr_1", Tier: "basic", Hash: sha256.Sum256([]byte("raw-1"))},
		{ID: "key_2", UserID: "usr_2", Tier: "basic", Hash: sha256.Sum256([]byte("raw-2"))},
	}
	if err := db.CreateUsers(ctx, users); err != nil {
		log.Fatal(err) // storage.ErrConflict for a taken id or email; nothing stored
	}
	if err := db.CreateAPIKeys(ctx, keys); err != nil {
		log.Fatal(err) // storage.ErrConflict for a taken id or hash; nothing stored
	}
	k, err := db.APIKeyByHash(ctx, sha256.Sum256([]byte("raw-2")))
	fmt.Println(k.ID, k.UserID, k.Lineage, err)
	// Output: key_2 usr_2 key_2 <nil>
}
