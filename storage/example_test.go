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

func ExampleDB_Flush() {
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
	// The server counts in memory and flushes absolute values now and then;
	// flushing the same batch twice changes nothing.
	b := storage.Batch{
		Usage: []storage.Usage{{Lineage: "key_1", Day: now, Count: 42}},
		Keys:  []storage.LastUsed{{ID: "key_1", At: now}}, // unknown ids are skipped
	}
	for range 2 {
		if err := db.Flush(ctx, b); err != nil {
			log.Fatal(err)
		}
	}
	n, err := db.UsageCount(ctx, "key_1", now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n)
	// Output: 42
}

func ExampleDB_Events() {
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
	for _, action := range []string{"user.registered", "user.login_failed", "key.created"} {
		if _, err := db.AppendEvent(ctx, storage.Event{Time: now, Action: action}); err != nil {
			log.Fatal(err)
		}
	}
	// Page through the log, newest first, two at a time.
	for before := ""; ; {
		page, err := db.Events(ctx, before, 2)
		if err != nil {
			log.Fatal(err) // storage.ErrInvalid for a malformed cursor
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			fmt.Println(e.ID, e.Action)
		}
		before = page[len(page)-1].ID
	}
	// Output:
	// evt_0000000000000003 key.created
	// evt_0000000000000002 user.login_failed
	// evt_0000000000000001 user.registered
}

func ExampleDB_EnsureSigningKey() {
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
	generate := func() (storage.SigningKey, error) {
		// In real life: 32 bytes from crypto/rand and a random id.
		return storage.SigningKey{ID: "sk_1", Seed: make([]byte, storage.SeedSize), CreatedAt: now}, nil
	}
	keys, err := db.EnsureSigningKey(ctx, generate) // at start-up: first run generates
	if err != nil {
		log.Fatal(err)
	}
	// Rotation: the new key signs, the old one retires but still verifies.
	next := storage.SigningKey{ID: "sk_2", Seed: make([]byte, storage.SeedSize), CreatedAt: now.Add(24 * time.Hour)}
	if err := db.AddSigningKey(ctx, next); err != nil {
		log.Fatal(err)
	}
	if keys, err = db.SigningKeys(ctx); err != nil {
		log.Fatal(err)
	}
	for _, k := range keys {
		fmt.Println(k.ID, k.RetiredAt.IsZero())
	}
	// Output:
	// sk_2 true
	// sk_1 false
}

func ExampleDB_RevokeUserSessions() {
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
	for _, id := range []string{"ses_laptop", "ses_phone", "ses_tablet"} {
		s := storage.Session{ID: id, UserID: "usr_1", RefreshID: "jti_" + id, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateSession(ctx, s); err != nil {
			log.Fatal(err)
		}
	}
	// "Log out everywhere else" from the laptop.
	revoked, err := db.RevokeUserSessions(ctx, "usr_1", "ses_laptop", now)
	if err != nil {
		log.Fatal(err)
	}
	live, err := db.LiveSessions(ctx, now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(revoked, len(live), live[0].ID)
	// Output: [ses_phone ses_tablet] 1 ses_laptop
}
