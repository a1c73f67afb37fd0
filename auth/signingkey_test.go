package auth_test

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/keygate/keygate/auth"
)

// fixedKey returns the signing key with the given ID whose seed is 32 times b.
func fixedKey(t testing.TB, id string, b byte) auth.SigningKey {
	t.Helper()
	k, err := auth.SigningKeyFromSeed(id, bytes.Repeat([]byte{b}, ed25519.SeedSize))
	if err != nil {
		t.Fatalf("SigningKeyFromSeed: %v", err)
	}
	return k
}

// verifyOnly returns k without its private key, as a retired key is kept.
func verifyOnly(k auth.SigningKey) auth.SigningKey {
	return auth.SigningKey{ID: k.ID, Public: k.Public}
}

func TestNewSigningKey(t *testing.T) {
	tests := []struct {
		name string
		r    func() *seqReader // nil: crypto/rand
	}{
		{"fixed reader", func() *seqReader { return &seqReader{} }},
		{"crypto/rand", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newKey := func() auth.SigningKey {
				var k auth.SigningKey
				var err error
				if tc.r == nil {
					k, err = auth.NewSigningKey(nil)
				} else {
					k, err = auth.NewSigningKey(tc.r())
				}
				if err != nil {
					t.Fatalf("NewSigningKey: %v", err)
				}
				return k
			}
			k, k2 := newKey(), newKey()
			if len(k.ID) != 20 || len(k.Private) != ed25519.PrivateKeySize || !k.Public.Equal(k.Private.Public()) {
				t.Fatalf("key = {ID: %q, %d-byte private, %d-byte public}, public matches: %v",
					k.ID, len(k.Private), len(k.Public), k.Public.Equal(k.Private.Public()))
			}
			if same := k.ID == k2.ID && k.Public.Equal(k2.Public); same != (tc.r != nil) {
				t.Errorf("two keys equal = %v, want %v", same, tc.r != nil)
			}
			back, err := auth.SigningKeyFromSeed(k.ID, k.Seed())
			if err != nil || back.ID != k.ID || !back.Private.Equal(k.Private) || !back.Public.Equal(k.Public) {
				t.Errorf("SigningKeyFromSeed(ID, Seed()) = %v, %v; want the key back", back.ID, err)
			}
		})
	}
}

func TestNewSigningKey_FailingRand(t *testing.T) {
	if k, err := auth.NewSigningKey(failReader{}); err == nil {
		t.Fatalf("NewSigningKey = %q, nil; want an error", k.ID)
	}
}

func TestSigningKeyFromSeed_Errors(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	tests := []struct {
		name string
		id   string
		seed []byte
	}{
		{"nil seed", "k1", nil},
		{"short seed", "k1", seed[:31]},
		{"long seed", "k1", append(seed, 0)},
		{"private key as seed", "k1", ed25519.NewKeyFromSeed(seed)},
		{"empty id", "", seed},
		{"id with slash", "a/b", seed},
		{"id with space", "a b", seed},
		{"id too long", strings.Repeat("a", 65), seed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := auth.SigningKeyFromSeed(tc.id, tc.seed); err == nil {
				t.Fatal("SigningKeyFromSeed = nil error, want an error")
			}
		})
	}
}

func TestSigningKey_Seed(t *testing.T) {
	k := fixedKey(t, "k1", 7)
	tests := []struct {
		name string
		key  auth.SigningKey
		want []byte
	}{
		{"signing key", k, bytes.Repeat([]byte{7}, ed25519.SeedSize)},
		{"verify-only key", verifyOnly(k), nil},
		{"malformed private key", auth.SigningKey{ID: "k1", Private: k.Private[:10]}, nil},
		{"zero value", auth.SigningKey{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.key.Seed()
			if !bytes.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Fatalf("Seed = %x, want %x", got, tc.want)
			}
			if got != nil {
				got[0] ^= 0xff
				if !bytes.Equal(tc.key.Seed(), tc.want) {
					t.Error("changing the returned seed changed the key")
				}
			}
		})
	}
}
