package storage_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/storage"
)

func TestDB_PasswordReset(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if err := db.CreateUser(ctx, storage.User{ID: "usr_1", Email: "a@b.io", PasswordHash: []byte("old"), Role: "user", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256([]byte("token"))
	if err := db.CreatePasswordReset(ctx, hash, "usr_nobody", now.Add(time.Hour)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("reset for an unknown user: %v", err)
	}
	if err := db.CreatePasswordReset(ctx, [32]byte{}, "usr_1", now.Add(time.Hour)); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("zero hash: %v", err)
	}
	if err := db.CreatePasswordReset(ctx, hash, "usr_1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if u, err := db.PasswordResetUser(ctx, hash, now); err != nil || u.ID != "usr_1" {
		t.Fatalf("PasswordResetUser = %+v, %v", u, err)
	}
	if _, err := db.UsePasswordReset(ctx, hash, []byte("new"), now.Add(time.Hour)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("expired reset: %v", err)
	}
	u, err := db.UsePasswordReset(ctx, hash, []byte("new"), now)
	if err != nil || string(u.PasswordHash) != "new" {
		t.Fatalf("UsePasswordReset = %+v, %v", u, err)
	}
	if got, _ := db.UserByID(ctx, "usr_1"); string(got.PasswordHash) != "new" {
		t.Errorf("stored hash = %q", got.PasswordHash)
	}
	if _, err := db.UsePasswordReset(ctx, hash, []byte("again"), now); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second use: %v", err)
	}
}
