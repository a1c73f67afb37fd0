package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestDB_ForEachKeyHash(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	var want [][32]byte
	for i := range 5 {
		k := testKey(fmt.Sprintf("k%d", i), "u1", t0)
		if err := db.CreateAPIKey(ctx, k, 0, t0); err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		want = append(want, k.Hash)
	}
	// Revoked and rotated-out keys are walked too: they are still stored.
	if _, err := db.RevokeAPIKey(ctx, "k0", t0); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	next := testKey("k9", "u1", t0)
	if _, err := db.RotateAPIKey(ctx, "k1", next, t0, t0); err != nil {
		t.Fatalf("RotateAPIKey: %v", err)
	}
	want = append(want, next.Hash)

	var got [][32]byte
	if err := db.ForEachKeyHash(ctx, func(h [32]byte) error {
		got = append(got, h)
		return nil
	}); err != nil {
		t.Fatalf("ForEachKeyHash: %v", err)
	}
	slices.SortFunc(want, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	if !slices.Equal(got, want) {
		t.Errorf("hashes = %x\nwant %x (all stored keys, in byte order)", got, want)
	}
}

func TestDB_ForEachKeyHash_Errors(t *testing.T) {
	db := openTestDB(t)
	if err := db.CreateAPIKey(context.Background(), testKey("k1", "u1", t0), 0, t0); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	errStop := errors.New("stop")
	err := db.ForEachKeyHash(context.Background(), func([32]byte) error { return errStop })
	if !errors.Is(err, errStop) {
		t.Errorf("fn's error: got %v, want %v", err, errStop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err = db.ForEachKeyHash(ctx, func([32]byte) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("cancelled: got %v, called %v; want context.Canceled before any call", err, called)
	}
}

func TestDB_ForEachKeyHash_Empty(t *testing.T) {
	db := openTestDB(t)
	n := 0
	if err := db.ForEachKeyHash(context.Background(), func([32]byte) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("empty database: %d hashes, error %v; want 0, nil", n, err)
	}
}
