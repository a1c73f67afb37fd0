package storage_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/keygate/keygate/storage"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "keygate")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := storage.Open(filepath.Join(dir, "keygate.db"), storage.Options{Timeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err) // errors.Is(err, storage.ErrLocked) if another keygate holds the file
	}
	defer db.Close()

	secret, err := db.Secret(context.Background(), "jwt", func() ([]byte, error) {
		return []byte("32 random bytes in real life...."), nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(secret))
	// Output: 32
}

func ExampleDB_CreateAPIKey() {
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

	ctx := context.Background()
	now := time.Date(2026, 11, 26, 18, 46, 25, 0, time.UTC)
	raw := "kg_live_0123456789abcdefghijklmnop" // shown to the user once, never stored
	k := storage.APIKey{
		ID: "key_1", UserID: "usr_1", Name: "ci", Prefix: raw[:12], Tier: "free",
		Hash: sha256.Sum256([]byte(raw)), CreatedAt: now,
	}
	if err := db.CreateAPIKey(ctx, k, 3, now); err != nil {
		log.Fatal(err) // storage.ErrKeyLimit once usr_1 has 3 active keys
	}

	// A request presents the raw key; only its hash is looked up.
	got, err := db.APIKeyByHash(ctx, sha256.Sum256([]byte(raw)))
	if err != nil {
		log.Fatal(err) // storage.ErrNotFound for an unknown key
	}
	fmt.Println(got.ID, got.Prefix, got.Lineage, got.ActiveAt(now))
	// Output: key_1 kg_live_0123 key_1 true
}

func ExampleDB_APIKeyByHash() {
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

	_, err = db.APIKeyByHash(context.Background(), sha256.Sum256([]byte("kg_unknown")))
	fmt.Println(err)
	// Output: storage: not found: key with that hash
}
