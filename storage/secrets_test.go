package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/storage"
)

func TestDB_ReplaceSecret(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	first, err := db.Secret(ctx, "jwt", func() ([]byte, error) { return []byte("first"), nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s1", "s2"} {
		if err := db.CreateSession(ctx, testSession(id, "u1")); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.ReplaceSecret(ctx, "jwt", []byte("second"), t0)
	if err != nil || n != 2 {
		t.Fatalf("ReplaceSecret = %d, %v; want 2 sessions revoked", n, err)
	}
	db = reopen(t, db)
	got, err := db.Secret(ctx, "jwt", func() ([]byte, error) { t.Error("generate called"); return nil, nil })
	if err != nil || string(got) != "second" || string(first) != "first" {
		t.Errorf("after replace Secret = %q, %v; want %q", got, err, "second")
	}
	live, err := db.LiveSessions(ctx, t0)
	if err != nil || len(live) != 0 {
		t.Errorf("live sessions after replace: %v, %v; want none", live, err)
	}
}

func TestDB_ReplaceSecret_Errors(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		secret []byte
	}{{"", []byte("x")}, {"jwt", nil}} {
		if _, err := db.ReplaceSecret(ctx, tc.name, tc.secret, t0); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ReplaceSecret(%q, %q) = %v, want ErrInvalid", tc.name, tc.secret, err)
		}
	}
	if _, err := db.ReplaceSecret(ctx, "jwt", []byte("x"), time.Time{}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("zero revocation time: %v, want ErrInvalid", err)
	}
}
