package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
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

// seedSessions stores sessions of u1 (live a1 and a2, a3 revoked at
// t0-1h, a4 expiring at t0+30m), u2 (live b1) and u10 (live c1, whose user id
// shares u1's prefix). Live sessions expire at t0+24h.
func seedSessions(t *testing.T, db *storage.DB) {
	t.Helper()
	ctx := context.Background()
	a4 := testSession("a4", "u1")
	a4.ExpiresAt = t0.Add(30 * time.Minute)
	for _, s := range []storage.Session{
		testSession("a1", "u1"), testSession("a2", "u1"), testSession("a3", "u1"), a4,
		testSession("b1", "u2"), testSession("c1", "u10"),
	} {
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RevokeSession(ctx, "a3", t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// sessionIDs returns the ids of sessions, in order.
func sessionIDs(sessions []storage.Session) []string {
	ids := []string{}
	for _, s := range sessions {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestSession_LiveAt(t *testing.T) {
	s := testSession("s1", "u1")
	revoked := s
	revoked.RevokedAt = t0
	tests := []struct {
		name string
		s    storage.Session
		at   time.Time
		want bool
	}{
		{"revoked", revoked, t0.Add(-time.Hour), false},
		{"at expiry", s, s.ExpiresAt, false},
		{"after expiry", s, s.ExpiresAt.Add(time.Nanosecond), false},
		{"live", s, s.ExpiresAt.Add(-time.Nanosecond), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.LiveAt(tc.at); got != tc.want {
				t.Errorf("LiveAt = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDB_LiveSessions(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	seedSessions(t, db)
	db = reopen(t, db)
	tests := []struct {
		name string
		now  time.Time
		want []string
	}{
		{"before a4 expires", t0, []string{"a1", "a2", "a4", "b1", "c1"}},
		{"expired and revoked left out", t0.Add(time.Hour), []string{"a1", "a2", "b1", "c1"}},
		{"at expiry", t0.Add(24 * time.Hour), []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.LiveSessions(ctx, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if ids := sessionIDs(got); !reflect.DeepEqual(ids, tc.want) {
				t.Errorf("ids = %v, want %v", ids, tc.want)
			}
			for _, s := range got {
				if s.UserID == "" || s.RefreshID == "" || !s.LiveAt(tc.now) {
					t.Errorf("bad session %+v", s)
				}
			}
		})
	}
}

func TestDB_RevokeUserSessions(t *testing.T) {
	ctx := context.Background()
	at := t0.Add(time.Hour)
	tests := []struct {
		name, user, except string
		want               []string // revoked ids
	}{
		{"all of u1", "u1", "", []string{"a1", "a2"}},
		{"all but the current one", "u1", "a2", []string{"a1"}},
		{"except another user's session", "u1", "b1", []string{"a1", "a2"}},
		{"user without sessions", "u3", "", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			seedSessions(t, db)
			got, err := db.RevokeUserSessions(ctx, tc.user, tc.except, at)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("RevokeUserSessions = %v, %v; want %v", got, err, tc.want)
			}
			db = reopen(t, db)
			wantRevokedAt := map[string]time.Time{"a3": t0.Add(-time.Hour)} // an earlier revocation is kept
			for _, id := range tc.want {
				wantRevokedAt[id] = at
			}
			for _, id := range []string{"a1", "a2", "a3", "a4", "b1", "c1"} {
				s, err := db.SessionByID(ctx, id)
				if err != nil || !s.RevokedAt.Equal(wantRevokedAt[id]) {
					t.Errorf("%s: RevokedAt = %v, %v; want %v", id, s.RevokedAt, err, wantRevokedAt[id])
				}
			}
		})
	}
}

func TestDB_RevokeUserSessions_Errors(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		user    string
		at      time.Time
		wantErr error
	}{
		{"empty user id", ctx, "", t0, storage.ErrInvalid},
		{"slash in user id", ctx, "u/1", t0, storage.ErrInvalid},
		{"zero time", ctx, "u1", time.Time{}, storage.ErrInvalid},
		{"cancelled", cancelled, "u1", t0, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			seedSessions(t, db)
			if _, err := db.RevokeUserSessions(tc.ctx, tc.user, "", tc.at); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if live, _ := db.LiveSessions(ctx, t0); len(live) != 5 {
				t.Errorf("failed call changed sessions: %d live, want 5", len(live))
			}
		})
	}
}

func TestDB_PruneSessions(t *testing.T) {
	ctx := context.Background()
	all := []string{"a1", "a2", "a3", "a4", "b1", "c1"}
	tests := []struct {
		name   string
		cutoff time.Time
		pruned []string
	}{
		{"nothing ended yet", t0.Add(-2 * time.Hour), nil},
		{"revoked before cutoff", t0, []string{"a3"}},
		{"revoked and expired", t0.Add(time.Hour), []string{"a3", "a4"}},
		{"expiry at cutoff is kept", t0.Add(24 * time.Hour), []string{"a3", "a4"}},
		{"everything", t0.Add(25 * time.Hour), all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			seedSessions(t, db)
			n, err := db.PruneSessions(ctx, tc.cutoff)
			if err != nil || n != len(tc.pruned) {
				t.Fatalf("PruneSessions = %d, %v; want %d", n, err, len(tc.pruned))
			}
			db = reopen(t, db)
			for _, id := range all {
				_, err := db.SessionByID(ctx, id)
				if want := slices.Contains(tc.pruned, id); errors.Is(err, storage.ErrNotFound) != want {
					t.Errorf("%s: err = %v, want pruned %v", id, err, want)
				}
			}
			// The index must follow: SessionsByUser fails on a dangling entry.
			for _, u := range []string{"u1", "u2", "u10"} {
				if _, err := db.SessionsByUser(ctx, u); err != nil {
					t.Errorf("SessionsByUser(%s): %v", u, err)
				}
			}
		})
	}
}

func TestDB_RevokeAllSessions(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i, user := range []string{"usr_a", "usr_a", "usr_b", "usr_c"} {
		s := storage.Session{ID: fmt.Sprintf("ses_%d", i), UserID: user, RefreshID: "jti", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RevokeSession(ctx, "ses_3", now); err != nil {
		t.Fatal(err)
	}
	ids, err := db.RevokeAllSessions(ctx, "ses_1", now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids) != "[ses_0 ses_2]" {
		t.Errorf("revoked %v, want [ses_0 ses_2]", ids)
	}
	live, err := db.LiveSessions(ctx, now.Add(2*time.Minute))
	if err != nil || len(live) != 1 || live[0].ID != "ses_1" {
		t.Errorf("live after = %v, %v; want only ses_1", live, err)
	}
	if _, err := db.RevokeAllSessions(ctx, "", time.Time{}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("zero time: %v", err)
	}
}
