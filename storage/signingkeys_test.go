package storage_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/storage"
)

// testSigningKey returns a valid current key whose seed is derived from id.
func testSigningKey(id string, created time.Time) storage.SigningKey {
	seed := bytes.Repeat([]byte(id[:1]), storage.SeedSize)
	return storage.SigningKey{ID: id, Seed: seed, CreatedAt: created}
}

// keyStates returns "id:retired-offset" for each key, offsets from t0 (or "current").
func keyStates(keys []storage.SigningKey) []string {
	out := []string{}
	for _, k := range keys {
		state := "current"
		if !k.RetiredAt.IsZero() {
			state = k.RetiredAt.Sub(t0).String()
		}
		out = append(out, k.ID+":"+state)
	}
	return out
}

func TestDB_AddSigningKey(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if keys, err := db.SigningKeys(ctx); err != nil || keys == nil || len(keys) != 0 {
		t.Fatalf("SigningKeys on an empty db = %v, %v; want an empty slice", keys, err)
	}
	for i, id := range []string{"a", "b", "c"} {
		if err := db.AddSigningKey(ctx, testSigningKey(id, t0.Add(time.Duration(i)*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := reopen(t, db).SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Each key retires when the next one is created; an earlier retirement is kept.
	if got, want := keyStates(keys), []string{"c:current", "b:2h0m0s", "a:1h0m0s"}; !reflect.DeepEqual(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if want := testSigningKey("c", t0); !bytes.Equal(keys[0].Seed, want.Seed) || !keys[0].CreatedAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("current key = %+v", keys[0])
	}
}

func TestDB_AddSigningKey_Errors(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	shortSeed, noTime, retired := testSigningKey("b", t0), testSigningKey("b", time.Time{}), testSigningKey("b", t0)
	shortSeed.Seed = shortSeed.Seed[:31]
	retired.RetiredAt = t0
	tests := []struct {
		name    string
		ctx     context.Context
		key     storage.SigningKey
		wantErr error
	}{
		{"duplicate id", ctx, testSigningKey("a", t0.Add(time.Hour)), storage.ErrConflict},
		{"empty id", ctx, storage.SigningKey{Seed: make([]byte, 32), CreatedAt: t0}, storage.ErrInvalid},
		{"slash in id", ctx, testSigningKey("b/1", t0), storage.ErrInvalid},
		{"short seed", ctx, shortSeed, storage.ErrInvalid},
		{"nil seed", ctx, storage.SigningKey{ID: "b", CreatedAt: t0}, storage.ErrInvalid},
		{"zero creation time", ctx, noTime, storage.ErrInvalid},
		{"already retired", ctx, retired, storage.ErrInvalid},
		{"cancelled", cancelled, testSigningKey("b", t0), context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.AddSigningKey(ctx, testSigningKey("a", t0)); err != nil {
				t.Fatal(err)
			}
			if err := db.AddSigningKey(tc.ctx, tc.key); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			keys, err := db.SigningKeys(ctx)
			if got := keyStates(keys); err != nil || !reflect.DeepEqual(got, []string{"a:current"}) {
				t.Errorf("failed add changed keys: %v, %v", got, err)
			}
		})
	}
}

func TestDB_EnsureSigningKey(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	var calls atomic.Int32
	generate := func() (storage.SigningKey, error) {
		calls.Add(1)
		return testSigningKey("g", t0), nil
	}
	var wg sync.WaitGroup
	results := make([][]storage.SigningKey, 10)
	errs := make([]error, len(results))
	for i := range results {
		wg.Go(func() { results[i], errs[i] = db.EnsureSigningKey(ctx, generate) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, keys := range results {
		if got := keyStates(keys); !reflect.DeepEqual(got, []string{"g:current"}) {
			t.Errorf("keys = %v, want [g:current]", got)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("generate called %d times, want 1", n)
	}
	keys, err := reopen(t, db).EnsureSigningKey(ctx, generate)
	if err != nil || calls.Load() != 1 || !reflect.DeepEqual(keys, results[0]) {
		t.Errorf("after reopen: %v, %v (generate called %d times); want %v", keys, err, calls.Load(), results[0])
	}
}

func TestDB_EnsureSigningKey_Errors(t *testing.T) {
	ctx := context.Background()
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		generate func() (storage.SigningKey, error)
		wantErr  error
	}{
		{"generate fails", func() (storage.SigningKey, error) { return storage.SigningKey{}, errBoom }, errBoom},
		{"invalid key", func() (storage.SigningKey, error) { return storage.SigningKey{ID: "g", CreatedAt: t0}, nil }, storage.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if _, err := db.EnsureSigningKey(ctx, tc.generate); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if keys, _ := db.SigningKeys(ctx); len(keys) != 0 {
				t.Errorf("failed ensure stored %v", keyStates(keys))
			}
		})
	}
}

func TestDB_DeleteSigningKeys(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		cutoff time.Time
		want   []string
	}{
		{"nothing retired before", t0.Add(time.Hour), []string{"c:current", "b:2h0m0s", "a:1h0m0s"}},
		{"retirement at cutoff is kept", t0.Add(2 * time.Hour), []string{"c:current", "b:2h0m0s"}},
		{"never the current key", t0.Add(100 * time.Hour), []string{"c:current"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			for i, id := range []string{"a", "b", "c"} {
				if err := db.AddSigningKey(ctx, testSigningKey(id, t0.Add(time.Duration(i)*time.Hour))); err != nil {
					t.Fatal(err)
				}
			}
			n, err := db.DeleteSigningKeys(ctx, tc.cutoff)
			if err != nil || n != 3-len(tc.want) {
				t.Fatalf("DeleteSigningKeys = %d, %v; want %d", n, err, 3-len(tc.want))
			}
			keys, err := reopen(t, db).SigningKeys(ctx)
			if got := keyStates(keys); err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("keys = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
