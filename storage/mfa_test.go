package storage_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/keygate/keygate/storage"
)

func hashOf(code string) []byte {
	h := sha256.Sum256([]byte(code))
	return h[:]
}

// mfaUser makes user u1 with two-factor authentication on, secret "s1",
// last step 100 and recovery codes "r1" and "r2".
func mfaUser(t *testing.T, db *storage.DB) {
	t.Helper()
	ctx := context.Background()
	if err := db.CreateUser(ctx, testUser("u1", "ann@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPendingTOTP(ctx, "u1", []byte("s1")); err != nil {
		t.Fatal(err)
	}
	if err := db.EnableTOTP(ctx, "u1", []byte("s1"), 100, [][]byte{hashOf("r1"), hashOf("r2")}, t0); err != nil {
		t.Fatal(err)
	}
}

func TestDB_MFA_Enrolment(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if err := db.CreateUser(ctx, testUser("u1", "ann@example.com")); err != nil {
		t.Fatal(err)
	}
	if m, err := db.MFA(ctx, "u1"); err != nil || !reflect.DeepEqual(m, storage.MFA{}) {
		t.Fatalf("MFA before enrolment = %+v, %v", m, err)
	}
	steps := []struct {
		name    string
		do      func() error
		wantErr error
	}{
		{"unknown user", func() error { return db.SetPendingTOTP(ctx, "nobody", []byte("s")) }, storage.ErrNotFound},
		{"empty secret", func() error { return db.SetPendingTOTP(ctx, "u1", nil) }, storage.ErrInvalid},
		{"confirm with nothing pending", func() error { return db.EnableTOTP(ctx, "u1", []byte("s0"), 1, nil, t0) }, storage.ErrNoPendingMFA},
		{"pending", func() error { return db.SetPendingTOTP(ctx, "u1", []byte("s0")) }, nil},
		{"replaced", func() error { return db.SetPendingTOTP(ctx, "u1", []byte("s1")) }, nil},
		{"confirm the replaced one", func() error { return db.EnableTOTP(ctx, "u1", []byte("s0"), 1, nil, t0) }, storage.ErrNoPendingMFA},
		{"use before it is on", func() error { return db.AcceptTOTPStep(ctx, "u1", []byte("s1"), 5) }, storage.ErrMFADisabled},
		{"confirm", func() error { return db.EnableTOTP(ctx, "u1", []byte("s1"), 100, [][]byte{hashOf("r1")}, t0) }, nil},
		{"confirm again", func() error { return db.EnableTOTP(ctx, "u1", []byte("s1"), 101, nil, t0) }, storage.ErrMFAEnabled},
		{"enrol while on", func() error { return db.SetPendingTOTP(ctx, "u1", []byte("s2")) }, storage.ErrMFAEnabled},
	}
	for _, s := range steps {
		if err := s.do(); !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
			t.Fatalf("%s: %v, want %v", s.name, err, s.wantErr)
		}
	}
	db = reopen(t, db) // committed, and survives a restart
	m, err := db.MFA(ctx, "u1")
	want := storage.MFA{Secret: []byte("s1"), Enabled: true, EnabledAt: t0, LastStep: 100, RecoveryHashes: [][]byte{hashOf("r1")}}
	if err != nil || !reflect.DeepEqual(m, want) {
		t.Errorf("MFA = %+v, %v\nwant %+v", m, err, want)
	}
	if _, err := db.MFA(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("MFA(unknown) = %v", err)
	}
	if _, err := db.MFA(ctx, "a/b"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("MFA(a/b) = %v", err)
	}
}

// A time step is accepted once, and only after the last one (replay).
func TestDB_AcceptTOTPStep(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	mfaUser(t, db)
	tests := []struct {
		name    string
		secret  string
		step    int64
		wantErr error
	}{
		{"the confirming step", "s1", 100, storage.ErrCodeUsed},
		{"an earlier step", "s1", 99, storage.ErrCodeUsed},
		{"another secret", "s2", 101, storage.ErrCodeUsed},
		{"next step", "s1", 101, nil},
		{"next step again", "s1", 101, storage.ErrCodeUsed},
		{"a later step", "s1", 103, nil},
		{"a step before it", "s1", 102, storage.ErrCodeUsed},
	}
	for _, tc := range tests {
		if err := db.AcceptTOTPStep(ctx, "u1", []byte(tc.secret), tc.step); !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
		}
	}
	if m, _ := db.MFA(ctx, "u1"); m.LastStep != 103 {
		t.Errorf("LastStep = %d, want 103", m.LastStep)
	}
}

// Two logins with one code at the same time: exactly one gets in.
func TestDB_AcceptTOTPStep_Concurrent(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	mfaUser(t, db)
	for step := int64(101); step < 111; step++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := 0
		for range 8 {
			wg.Go(func() {
				err := db.AcceptTOTPStep(ctx, "u1", []byte("s1"), step)
				if err != nil && !errors.Is(err, storage.ErrCodeUsed) {
					t.Error(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					accepted++
				}
			})
		}
		wg.Wait()
		if accepted != 1 {
			t.Fatalf("step %d accepted %d times", step, accepted)
		}
	}
}

func TestDB_SpendRecoveryCode(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	mfaUser(t, db)
	tests := []struct {
		name    string
		code    string
		wantErr error
	}{
		{"unknown code", "r9", storage.ErrCodeUsed},
		{"first", "r1", nil},
		{"first again", "r1", storage.ErrCodeUsed},
		{"second", "r2", nil},
	}
	for _, tc := range tests {
		if err := db.SpendRecoveryCode(ctx, "u1", hashOf(tc.code)); !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
		}
	}
	if m, _ := db.MFA(ctx, "u1"); len(m.RecoveryHashes) != 0 || !m.Enabled {
		t.Errorf("after spending both: %+v", m)
	}
}

func TestDB_SpendRecoveryCode_Concurrent(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	mfaUser(t, db)
	var wg sync.WaitGroup
	results := make(chan error, 8)
	for range 8 {
		wg.Go(func() { results <- db.SpendRecoveryCode(ctx, "u1", hashOf("r1")) })
	}
	wg.Wait()
	close(results)
	spent := 0
	for err := range results {
		if err == nil {
			spent++
		} else if !errors.Is(err, storage.ErrCodeUsed) {
			t.Error(err)
		}
	}
	if spent != 1 {
		t.Errorf("one code spent %d times", spent)
	}
}

func TestDB_ReplaceRecoveryCodes_DisableMFA(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if err := db.CreateUser(ctx, testUser("u2", "bob@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceRecoveryCodes(ctx, "u2", nil); !errors.Is(err, storage.ErrMFADisabled) {
		t.Errorf("ReplaceRecoveryCodes while off = %v", err)
	}
	if err := db.SpendRecoveryCode(ctx, "u2", hashOf("r1")); !errors.Is(err, storage.ErrMFADisabled) {
		t.Errorf("SpendRecoveryCode while off = %v", err)
	}
	mfaUser(t, db)
	if err := db.ReplaceRecoveryCodes(ctx, "u1", [][]byte{hashOf("n1")}); err != nil {
		t.Fatal(err)
	}
	if err := db.SpendRecoveryCode(ctx, "u1", hashOf("r1")); !errors.Is(err, storage.ErrCodeUsed) {
		t.Errorf("an old code after replacing = %v", err)
	}
	if err := db.SpendRecoveryCode(ctx, "u1", hashOf("n1")); err != nil {
		t.Errorf("a new code = %v", err)
	}
	on, err := db.MFAEnabled(ctx, "u1", "u2", "nobody")
	if err != nil || !reflect.DeepEqual(on, map[string]bool{"u1": true, "u2": false, "nobody": false}) {
		t.Errorf("MFAEnabled = %v, %v", on, err)
	}
	if was, err := db.DisableMFA(ctx, "u1"); !was || err != nil {
		t.Errorf("DisableMFA = %v, %v", was, err)
	}
	if was, err := db.DisableMFA(ctx, "u1"); was || err != nil {
		t.Errorf("DisableMFA again = %v, %v", was, err)
	}
	if _, err := db.DisableMFA(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DisableMFA(unknown) = %v", err)
	}
	db = reopen(t, db)
	if m, err := db.MFA(ctx, "u1"); err != nil || !reflect.DeepEqual(m, storage.MFA{}) {
		t.Errorf("after disabling: %+v, %v", m, err)
	}
	// Off again, the user can enrol afresh.
	if err := db.SetPendingTOTP(ctx, "u1", []byte("s9")); err != nil {
		t.Errorf("enrol after disabling: %v", err)
	}
}
