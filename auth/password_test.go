package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keygate/keygate/auth"
	"golang.org/x/crypto/bcrypt"
)

func newHasher(t testing.TB) *auth.Hasher {
	t.Helper()
	h, err := auth.NewHasher(bcrypt.MinCost)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name string
		p    string
		want error
	}{
		{"empty", "", auth.ErrPasswordTooShort},
		{"7 bytes", "1234567", auth.ErrPasswordTooShort},
		{"4 runes but 8 bytes", "éééé", nil},
		{"7 bytes multi-byte", "ééé1", auth.ErrPasswordTooShort},
		{"8 bytes", "12345678", nil},
		{"72 bytes", strings.Repeat("a", 72), nil},
		{"72 bytes multi-byte", strings.Repeat("é", 36), nil},
		{"73 bytes", strings.Repeat("a", 73), auth.ErrPasswordTooLong},
		{"74 bytes multi-byte", strings.Repeat("é", 37), auth.ErrPasswordTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := auth.ValidatePassword(tc.p); err != tc.want {
				t.Errorf("ValidatePassword(%d bytes) = %v, want %v", len(tc.p), err, tc.want)
			}
		})
	}
}

func TestNewHasher_Cost(t *testing.T) {
	tests := []struct {
		cost    int
		wantErr bool
	}{
		{bcrypt.MinCost - 1, true},
		{bcrypt.MinCost, false},
		{bcrypt.MaxCost + 1, true},
		{0, true},
	}
	for _, tc := range tests {
		if _, err := auth.NewHasher(tc.cost); (err != nil) != tc.wantErr {
			t.Errorf("NewHasher(%d) error = %v, wantErr %v", tc.cost, err, tc.wantErr)
		}
	}
}

func TestHasher_Check(t *testing.T) {
	h := newHasher(t)
	const pw = "correct horse"
	hash := mustHash(t, h, pw)
	long72 := strings.Repeat("x", 72)
	hash72 := mustHash(t, h, long72)
	tests := []struct {
		name string
		hash []byte
		pw   string
		want error
	}{
		{"wrong password", hash, "wrong horse", auth.ErrInvalidCredentials},
		{"nil hash", nil, pw, auth.ErrInvalidCredentials},
		{"empty hash", []byte{}, pw, auth.ErrInvalidCredentials},
		{"too short", hash, "1234567", auth.ErrPasswordTooShort},
		{"too short nil hash", nil, "", auth.ErrPasswordTooShort},
		// bcrypt would accept this (it ignores bytes after the 72nd); we refuse it.
		{"73 bytes vs hash of first 72", hash72, long72 + "y", auth.ErrPasswordTooLong},
		{"right password", hash, pw, nil},
		{"72 bytes", hash72, long72, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.Check(tc.hash, tc.pw); err != tc.want {
				t.Errorf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHasher_Check_CorruptHash(t *testing.T) {
	err := newHasher(t).Check([]byte("not a bcrypt hash"), "password1")
	if err == nil || errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("Check(corrupt) = %v, want an internal error", err)
	}
}

func TestHasher_Hash(t *testing.T) {
	h := newHasher(t)
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"too short", "short", auth.ErrPasswordTooShort},
		{"too long", strings.Repeat("a", 73), auth.ErrPasswordTooLong},
		{"common", "password1", auth.ErrCommonPassword},
		{"ok", "password-of-mine-1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hash, err := h.Hash(tc.pw)
			if err != tc.want {
				t.Fatalf("Hash error = %v, want %v", err, tc.want)
			}
			if err == nil && string(hash) == tc.pw {
				t.Fatal("Hash returned the plaintext")
			}
		})
	}
}

func mustHash(t *testing.T, h *auth.Hasher, pw string) []byte {
	t.Helper()
	hash, err := h.Hash(pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return hash
}
