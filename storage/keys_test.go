package storage_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/storage"
)

func TestAPIKey_ActiveAt(t *testing.T) {
	tests := []struct {
		name string
		key  storage.APIKey
		at   time.Time
		want bool
	}{
		{"plain", storage.APIKey{}, t0, true},
		{"revoked before", storage.APIKey{RevokedAt: t0.Add(-time.Second)}, t0, false},
		{"revoked at", storage.APIKey{RevokedAt: t0}, t0, false},
		{"revoked later", storage.APIKey{RevokedAt: t0.Add(time.Second)}, t0, true},
		{"expired at", storage.APIKey{ExpiresAt: t0}, t0, false},
		{"expires later", storage.APIKey{ExpiresAt: t0.Add(time.Second)}, t0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.key.ActiveAt(tc.at); got != tc.want {
				t.Errorf("ActiveAt = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDB_CreateAPIKey(t *testing.T) {
	ctx := context.Background()
	dupHash := testKey("k9", "u1", t0)
	dupHash.Hash = testKey("k1", "u1", t0).Hash
	zeroHash := testKey("k9", "u1", t0)
	zeroHash.Hash = [32]byte{}
	slashLineage := testKey("k9", "u1", t0)
	slashLineage.Lineage = "a/b"
	tests := []struct {
		name    string
		key     storage.APIKey
		wantErr error
	}{
		{"duplicate id", testKey("k1", "u2", t0), storage.ErrConflict},
		{"duplicate hash", dupHash, storage.ErrConflict},
		{"zero hash", zeroHash, storage.ErrInvalid},
		{"empty id", testKey("", "u1", t0), storage.ErrInvalid},
		{"slash in id", testKey("k/9", "u1", t0), storage.ErrInvalid},
		{"empty user", testKey("k9", "", t0), storage.ErrInvalid},
		{"slash in lineage", slashLineage, storage.ErrInvalid},
		{"ok", testKey("k9", "u1", t0), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.CreateAPIKey(ctx, testKey("k1", "u1", t0), 0, t0); err != nil {
				t.Fatal(err)
			}
			if err := db.CreateAPIKey(ctx, tc.key, 0, t0); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			want := tc.key
			want.Lineage = want.ID // empty lineage defaults to the id
			got, err := db.APIKeyByID(ctx, want.ID)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("APIKeyByID = %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

func TestDB_CreateAPIKey_Limit(t *testing.T) {
	ctx := context.Background()
	revoked := testKey("revoked", "u1", t0)
	revoked.RevokedAt = t0.Add(-time.Minute)
	expired := testKey("expired", "u1", t0)
	expired.ExpiresAt = t0
	grace := testKey("grace", "u1", t0)
	grace.RevokedAt = t0.Add(time.Hour)
	tests := []struct {
		name      string
		existing  []storage.APIKey
		maxActive int
		wantErr   error
	}{
		{"three active", []storage.APIKey{testKey("a", "u1", t0), testKey("b", "u1", t0), testKey("c", "u1", t0)}, 3, storage.ErrKeyLimit},
		{"key in grace counts", []storage.APIKey{testKey("a", "u1", t0), testKey("b", "u1", t0), grace}, 3, storage.ErrKeyLimit},
		{"revoked and expired do not count", []storage.APIKey{testKey("a", "u1", t0), testKey("b", "u1", t0), revoked, expired}, 3, nil},
		{"other users do not count", []storage.APIKey{testKey("a", "u1", t0), testKey("b", "u1", t0), testKey("c", "u2", t0)}, 3, nil},
		{"zero is unlimited", []storage.APIKey{testKey("a", "u1", t0), testKey("b", "u1", t0), testKey("c", "u1", t0)}, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			for _, k := range tc.existing {
				if err := db.CreateAPIKey(ctx, k, 0, t0); err != nil {
					t.Fatal(err)
				}
			}
			err := db.CreateAPIKey(ctx, testKey("new", "u1", t0), tc.maxActive, t0)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			_, err = db.APIKeyByID(ctx, "new")
			if stored := err == nil; stored != (tc.wantErr == nil) {
				t.Errorf("key stored = %v after err %v", stored, tc.wantErr)
			}
		})
	}
}

func TestDB_CreateAPIKey_ConcurrentLimit(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	const goroutines, maxActive = 40, 5
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			err := db.CreateAPIKey(ctx, testKey(fmt.Sprintf("k%d", i), "u1", t0), maxActive, t0)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, storage.ErrKeyLimit):
				limited.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != maxActive || limited.Load() != goroutines-maxActive {
		t.Errorf("created %d, limited %d; want %d and %d", ok.Load(), limited.Load(), maxActive, goroutines-maxActive)
	}
	keys, err := db.APIKeysByUser(ctx, "u1")
	if err != nil || len(keys) != maxActive {
		t.Errorf("APIKeysByUser: %d keys, %v", len(keys), err)
	}
}

func TestDB_APIKeyLookups(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	k := testKey("k1", "u1", t0)
	k.ExpiresAt = t0.Add(90 * 24 * time.Hour)
	if err := db.CreateAPIKey(ctx, k, 0, t0); err != nil {
		t.Fatal(err)
	}
	k.Lineage = "k1"
	db = reopen(t, db)
	tests := []struct {
		name    string
		lookup  func() (storage.APIKey, error)
		wantErr error
	}{
		{"unknown id", func() (storage.APIKey, error) { return db.APIKeyByID(ctx, "nope") }, storage.ErrNotFound},
		{"unknown hash", func() (storage.APIKey, error) { return db.APIKeyByHash(ctx, sha256.Sum256([]byte("nope"))) }, storage.ErrNotFound},
		{"by id", func() (storage.APIKey, error) { return db.APIKeyByID(ctx, "k1") }, nil},
		{"by hash", func() (storage.APIKey, error) { return db.APIKeyByHash(ctx, k.Hash) }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.lookup()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && !reflect.DeepEqual(got, k) {
				t.Errorf("got %+v, want %+v", got, k)
			}
		})
	}
}

func TestDB_APIKeysByUser(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	for _, k := range []storage.APIKey{
		testKey("b", "u1", t0), testKey("old", "u1", t0.Add(-time.Hour)), testKey("new", "u1", t0.Add(time.Hour)),
		testKey("a", "u1", t0), testKey("x", "u10", t0), testKey("y", "u", t0),
	} {
		if err := db.CreateAPIKey(ctx, k, 0, t0); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		user string
		want []string
	}{
		{"u1", []string{"new", "a", "b", "old"}},
		{"u", []string{"y"}},
		{"nobody", nil},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			keys, err := db.APIKeysByUser(ctx, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.ID)
			}
			if !reflect.DeepEqual(ids, tc.want) {
				t.Errorf("ids = %v, want %v", ids, tc.want)
			}
		})
	}
}

func TestDB_AllAPIKeys(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if keys, err := db.AllAPIKeys(ctx); err != nil || keys == nil || len(keys) != 0 {
		t.Fatalf("AllAPIKeys on an empty db = %v, %v; want an empty slice", keys, err)
	}
	for _, k := range []storage.APIKey{
		testKey("b", "u1", t0), testKey("old", "u2", t0.Add(-time.Hour)), testKey("new", "u3", t0.Add(time.Hour)),
		testKey("a", "u2", t0),
	} {
		if err := db.CreateAPIKey(ctx, k, 0, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RevokeAPIKey(ctx, "a", t0); err != nil {
		t.Fatal(err)
	}
	keys, err := reopen(t, db).AllAPIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID+"/"+k.UserID)
	}
	if want := []string{"new/u3", "a/u2", "b/u1", "old/u2"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
	if want := testKey("b", "u1", t0).Hash; keys[2].Hash != want || !keys[1].RevokedAt.Equal(t0) {
		t.Errorf("records not fully decoded: %+v", keys[1:3])
	}
}

func TestDB_RevokeAPIKey(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		revokedAt   time.Time // existing RevokedAt
		id          string
		at          time.Time
		wantErr     error
		wantRevoked time.Time
	}{
		{"unknown", time.Time{}, "nope", t0, storage.ErrNotFound, time.Time{}},
		{"zero time", time.Time{}, "k1", time.Time{}, storage.ErrInvalid, time.Time{}},
		{"active", time.Time{}, "k1", t0, nil, t0},
		{"earlier revocation kept", t0.Add(-time.Hour), "k1", t0, nil, t0.Add(-time.Hour)},
		{"same time", t0, "k1", t0, nil, t0},
		{"grace end brought forward", t0.Add(time.Hour), "k1", t0, nil, t0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			k := testKey("k1", "u1", t0)
			k.RevokedAt = tc.revokedAt
			if err := db.CreateAPIKey(ctx, k, 0, t0); err != nil {
				t.Fatal(err)
			}
			got, err := db.RevokeAPIKey(ctx, tc.id, tc.at)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			stored, _ := reopen(t, db).APIKeyByID(ctx, "k1")
			if !got.RevokedAt.Equal(tc.wantRevoked) || !stored.RevokedAt.Equal(tc.wantRevoked) {
				t.Errorf("RevokedAt returned %v, stored %v; want %v", got.RevokedAt, stored.RevokedAt, tc.wantRevoked)
			}
		})
	}
}

func TestDB_RotateAPIKey(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if err := db.CreateAPIKey(ctx, testKey("k1", "u1", t0), 1, t0); err != nil {
		t.Fatal(err)
	}
	graceUntil := t0.Add(time.Hour)
	next := testKey("k2", "someone-else", t0)
	old, err := db.RotateAPIKey(ctx, "k1", next, graceUntil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if old.ReplacedBy != "k2" || !old.RevokedAt.Equal(graceUntil) {
		t.Errorf("old = %+v", old)
	}
	if !old.ActiveAt(graceUntil.Add(-time.Nanosecond)) || old.ActiveAt(graceUntil) {
		t.Errorf("old key should be active until graceUntil and not after")
	}

	db = reopen(t, db)
	got, err := db.APIKeyByHash(ctx, next.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Lineage != "k1" || got.Replaces != "k1" || got.UserID != "u1" || got.ReplacedBy != "" {
		t.Errorf("next = %+v", got)
	}
	if stored, _ := db.APIKeyByID(ctx, "k1"); !reflect.DeepEqual(stored, old) {
		t.Errorf("stored old = %+v, returned %+v", stored, old)
	}

	// Rotating the new key again keeps the first key's lineage.
	if _, err := db.RotateAPIKey(ctx, "k2", testKey("k3", "u1", t0), graceUntil, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if k3, _ := db.APIKeyByID(ctx, "k3"); k3.Lineage != "k1" || k3.Replaces != "k2" {
		t.Errorf("k3 = %+v", k3)
	}
}

func TestDB_RotateAPIKey_Errors(t *testing.T) {
	ctx := context.Background()
	revoked := testKey("revoked", "u1", t0)
	revoked.RevokedAt = t0.Add(-time.Second)
	expired := testKey("expired", "u1", t0)
	expired.ExpiresAt = t0
	tests := []struct {
		name       string
		oldID      string
		next       storage.APIKey
		graceUntil time.Time
		wantErr    error
	}{
		{"unknown", "nope", testKey("n", "u1", t0), t0, storage.ErrNotFound},
		{"already rotated", "k1", testKey("n", "u1", t0), t0.Add(time.Hour), storage.ErrInactive},
		{"revoked", "revoked", testKey("n", "u1", t0), t0.Add(time.Hour), storage.ErrInactive},
		{"expired", "expired", testKey("n", "u1", t0), t0.Add(time.Hour), storage.ErrInactive},
		{"duplicate next id", "live", testKey("k1", "u1", t0), t0.Add(time.Hour), storage.ErrConflict},
		{"invalid next id", "live", testKey("n/1", "u1", t0), t0.Add(time.Hour), storage.ErrInvalid},
		{"zero grace", "live", testKey("n", "u1", t0), time.Time{}, storage.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			for _, k := range []storage.APIKey{testKey("k1", "u1", t0), testKey("live", "u1", t0), revoked, expired} {
				if err := db.CreateAPIKey(ctx, k, 0, t0); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.RotateAPIKey(ctx, "k1", testKey("k2", "u1", t0), t0.Add(time.Hour), t0); err != nil {
				t.Fatal(err)
			}
			before, _ := db.APIKeyByID(ctx, tc.oldID)
			if _, err := db.RotateAPIKey(ctx, tc.oldID, tc.next, tc.graceUntil, t0); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if after, _ := db.APIKeyByID(ctx, tc.oldID); !reflect.DeepEqual(before, after) {
				t.Errorf("old key changed by a failed rotation: %+v -> %+v", before, after)
			}
		})
	}
}

func BenchmarkAPIKeyByHash(b *testing.B) {
	ctx := context.Background()
	db := openTestDB(b)
	const n = 1000
	for i := range n {
		if err := db.CreateAPIKey(ctx, testKey(fmt.Sprintf("k%d", i), "u1", t0), 0, t0); err != nil {
			b.Fatal(err)
		}
	}
	hash := testKey("k500", "u1", t0).Hash
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.APIKeyByHash(ctx, hash); err != nil {
			b.Fatal(err)
		}
	}
}
