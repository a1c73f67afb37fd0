package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/golang-jwt/jwt/v5"
)

// The signing algorithms of TokenOptions.Algorithm, as written in the JWT
// "alg" header.
const (
	HS256 = "HS256"
	EdDSA = "EdDSA"
)

// maxKeyIDLen is the longest SigningKey.ID NewTokens accepts.
const maxKeyIDLen = 64

// SigningKey is one Ed25519 key of an EdDSA Tokens. ID is the JWT "kid"
// header: 1 to 64 characters of the base64url alphabet [A-Za-z0-9_-], unique
// among the keys of one Tokens. Private is nil for a retired, verify-only key;
// when set it must belong to Public. The zero value is not a usable key.
// A SigningKey holds slices: do not modify them while a Tokens built from it
// is in use (NewTokens copies them, so after NewTokens returns it is safe).
type SigningKey struct {
	ID      string             // the JWT "kid"; URL-safe, unique
	Private ed25519.PrivateKey // nil: verify only
	Public  ed25519.PublicKey
}

// NewSigningKey makes a fresh signing key: a 20-character base62 ID from
// NewID("", r) and an Ed25519 key from a 32-byte seed read from r (nil means
// crypto/rand.Reader). It returns an error only if r fails. It is safe for
// concurrent use if r is.
func NewSigningKey(r io.Reader) (SigningKey, error) {
	if r == nil {
		r = rand.Reader
	}
	id, err := NewID("", r)
	if err != nil {
		return SigningKey{}, err
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return SigningKey{}, fmt.Errorf("auth: reading random source: %w", err)
	}
	return SigningKeyFromSeed(id, seed)
}

// SigningKeyFromSeed rebuilds a signing key from its ID and its 32-byte seed
// (see Seed), as stored by the caller. It returns an error if seed is not
// ed25519.SeedSize bytes long or id is not a valid key ID (see SigningKey).
// seed is not retained.
func SigningKeyFromSeed(id string, seed []byte) (SigningKey, error) {
	if err := validateKeyID(id); err != nil {
		return SigningKey{}, err
	}
	if len(seed) != ed25519.SeedSize {
		return SigningKey{}, fmt.Errorf("auth: signing key %q: seed must be %d bytes, got %d", id, ed25519.SeedSize, len(seed))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return SigningKey{ID: id, Private: priv, Public: priv.Public().(ed25519.PublicKey)}, nil
}

// Seed returns a copy of the 32-byte seed of k.Private, the form in which to
// store a signing key (rebuild it with SigningKeyFromSeed). It returns nil for
// a verify-only key or a Private of the wrong length. The result is secret.
func (k SigningKey) Seed() []byte {
	if len(k.Private) != ed25519.PrivateKeySize {
		return nil
	}
	return k.Private.Seed()
}

// validate checks one key of TokenOptions.Keys.
func (k SigningKey) validate() error {
	if err := validateKeyID(k.ID); err != nil {
		return err
	}
	if len(k.Public) != ed25519.PublicKeySize {
		return fmt.Errorf("auth: signing key %q: public key must be %d bytes, got %d", k.ID, ed25519.PublicKeySize, len(k.Public))
	}
	if k.Private == nil {
		return nil
	}
	if len(k.Private) != ed25519.PrivateKeySize {
		return fmt.Errorf("auth: signing key %q: private key must be %d bytes, got %d", k.ID, ed25519.PrivateKeySize, len(k.Private))
	}
	if !k.Public.Equal(k.Private.Public()) {
		return fmt.Errorf("auth: signing key %q: private key does not match public key", k.ID)
	}
	return nil
}

// verifyOnly returns a deep copy of k without its private key.
func (k SigningKey) verifyOnly() SigningKey {
	return SigningKey{ID: k.ID, Public: append(ed25519.PublicKey(nil), k.Public...)}
}

// validateKeys checks TokenOptions.Keys for EdDSA.
func validateKeys(keys []SigningKey) error {
	if len(keys) == 0 {
		return errors.New("auth: eddsa needs at least one signing key")
	}
	if keys[0].Private == nil {
		return fmt.Errorf("auth: signing key %q: the first key signs and needs a private key", keys[0].ID)
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if err := k.validate(); err != nil {
			return err
		}
		if seen[k.ID] {
			return fmt.Errorf("auth: duplicate signing key id %q", k.ID)
		}
		seen[k.ID] = true
	}
	return nil
}

// validateKeyID returns an error unless id is 1 to maxKeyIDLen characters of
// [A-Za-z0-9_-], so it needs no escaping in a header, a URL or a log line.
func validateKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return fmt.Errorf("auth: signing key id must be 1 to %d characters long, got %d", maxKeyIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c != '_' && c != '-' && !isBase62(c) {
			return fmt.Errorf("auth: signing key id %q may only contain A-Z, a-z, 0-9, _ and -", id)
		}
	}
	return nil
}

// setKeys copies keys, which validateKeys accepted.
func (t *Tokens) setKeys(keys []SigningKey) {
	t.alg, t.method = EdDSA, jwt.SigningMethodEdDSA
	t.signKey = append(ed25519.PrivateKey(nil), keys[0].Private...)
	t.kid = keys[0].ID
	t.public = make(map[string]ed25519.PublicKey, len(keys))
	t.jwks = make([]JWK, len(keys))
	for i, k := range keys {
		k = k.verifyOnly()
		t.public[k.ID] = k.Public
		t.jwks[i] = k.jwk()
	}
}
