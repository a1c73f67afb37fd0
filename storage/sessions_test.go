package storage_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/storage"
)

func TestDB_CreateSession(t *testing.T) {
	ctx := context.Background()
	noRefresh := testSession("s2", "u1")
	noRefresh.RefreshID = ""
	tests := []struct {
		name    string
		session storage.Session
		wantErr error
	}{
		{"duplicate id", testSession("s1", "u2"), storage.ErrConflict},
		{"empty id", testSession("", "u1"), storage.ErrInvalid},
		{"slash in user id", testSession("s2", "u/1"), storage.ErrInvalid},
		{"empty refresh id", noRefresh, storage.ErrInvalid},
		{"ok", testSession("s2", "u1"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.CreateSession(ctx, testSession("s1", "u1")); err != nil {
				t.Fatal(err)
			}
			if err := db.CreateSession(ctx, tc.session); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			got, err := reopen(t, db).SessionByID(ctx, tc.session.ID)
			if err != nil || !reflect.DeepEqual(got, tc.session) {
				t.Errorf("SessionByID = %+v, %v; want %+v", got, err, tc.session)
			}
		})
	}
}

func TestDB_SessionByID_NotFound(t *testing.T) {
	db := openTestDB(t)
	if _, err := db.SessionByID(context.Background(), "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

func TestDB_SessionsByUser(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	older := testSession("old", "u1")
	older.CreatedAt = t0.Add(-time.Hour)
	for _, s := range []storage.Session{testSession("b", "u1"), older, testSession("a", "u1"), testSession("x", "u2")} {
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.SessionsByUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	if want := []string{"a", "b", "old"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
}

func TestDB_RotateSession(t *testing.T) {
	ctx := context.Background()
	now, exp := t0.Add(time.Minute), t0.Add(48*time.Hour)
	tests := []struct {
		name      string
		setup     func(t *testing.T, db *storage.DB)
		id, spent string
		now       time.Time
		wantErr   error
		// wantRevoked: the stored session must be revoked afterwards, also after reopen.
		wantRevoked bool
	}{
		{"unknown", nil, "nope", "r0-s1", now, storage.ErrNotFound, false},
		{"expired", nil, "s1", "r0-s1", t0.Add(24 * time.Hour), storage.ErrSessionRevoked, false},
		{"revoked", func(t *testing.T, db *storage.DB) {
			if _, err := db.RevokeSession(ctx, "s1", t0); err != nil {
				t.Fatal(err)
			}
		}, "s1", "r0-s1", now, storage.ErrSessionRevoked, true},
		{"reused token", func(t *testing.T, db *storage.DB) {
			if _, err := db.RotateSession(ctx, "s1", "r0-s1", "r1", t0, exp); err != nil {
				t.Fatal(err)
			}
		}, "s1", "r0-s1", now, storage.ErrTokenReused, true},
		{"ok", nil, "s1", "r0-s1", now, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.CreateSession(ctx, testSession("s1", "u1")); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(t, db)
			}
			got, err := db.RotateSession(ctx, tc.id, tc.spent, "r-next", tc.now, exp)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			stored, _ := reopen(t, db).SessionByID(ctx, "s1")
			if revoked := !stored.RevokedAt.IsZero(); revoked != tc.wantRevoked {
				t.Errorf("stored RevokedAt = %v, want revoked %v", stored.RevokedAt, tc.wantRevoked)
			}
			if tc.wantErr != nil {
				return
			}
			if got.RefreshID != "r-next" || !got.LastUsedAt.Equal(now) || !got.ExpiresAt.Equal(exp) {
				t.Errorf("rotated = %+v", got)
			}
			if !reflect.DeepEqual(got, stored) {
				t.Errorf("returned %+v, stored %+v", got, stored)
			}
		})
	}
}

func TestDB_RotateSession_Race(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if err := db.CreateSession(ctx, testSession("s1", "u1")); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = db.RotateSession(ctx, "s1", "r0-s1", "r-next", t0, t0.Add(time.Hour))
		})
	}
	wg.Wait()
	okCount, reused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			okCount++
		case errors.Is(err, storage.ErrTokenReused):
			reused++
		}
	}
	if okCount != 1 || reused != 1 {
		t.Errorf("errs = %v, want one success and one ErrTokenReused", errs)
	}
}

func TestDB_RevokeSession(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if err := db.CreateSession(ctx, testSession("s1", "u1")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeSession(ctx, "nope", t0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown: err = %v, want ErrNotFound", err)
	}
	if _, err := db.RevokeSession(ctx, "s1", time.Time{}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("zero time: err = %v, want ErrInvalid", err)
	}
	for i, at := range []time.Time{t0, t0.Add(time.Hour)} {
		s, err := db.RevokeSession(ctx, "s1", at)
		if err != nil || !s.RevokedAt.Equal(t0) {
			t.Errorf("revoke #%d: RevokedAt = %v, %v; want %v", i+1, s.RevokedAt, err, t0)
		}
	}
	if s, _ := reopen(t, db).SessionByID(ctx, "s1"); !s.RevokedAt.Equal(t0) {
		t.Errorf("after reopen RevokedAt = %v", s.RevokedAt)
	}
}
