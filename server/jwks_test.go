package server_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keygate/keygate/auth"
)

func TestJWKS_HS256IsNotFound(t *testing.T) {
	ts := newTestServer(t)
	want(t, ts.do("GET", "/.well-known/jwks.json", nil), 404, "not_found", nil)
}

// downstreamVerify checks a token the way another service would: with
// nothing but keygate's JWKS document.
func downstreamVerify(jwksJSON []byte, token string) error {
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg string }
	}
	if err := json.Unmarshal(jwksJSON, &set); err != nil {
		return err
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || k.Kty != "OKP" || k.Crv != "Ed25519" || len(x) != ed25519.PublicKeySize {
			return errors.New("bad JWK")
		}
		keys[k.Kid] = x
	}
	_, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown kid")
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer("keygate"), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }))
	return err
}

func TestJWKS_EdDSA(t *testing.T) {
	current, err := auth.NewSigningKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	retired, err := auth.NewSigningKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	verifyOnly := retired
	verifyOnly.Private = nil
	ts := newTestServerWithTokens(t, auth.TokenOptions{Algorithm: auth.EdDSA, Keys: []auth.SigningKey{current, verifyOnly}})
	_, pair := ts.signUp("ada@example.com")
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 200, "", nil)

	rec := ts.do("GET", "/.well-known/jwks.json", nil)
	var doc struct{ Keys []map[string]string }
	want(t, rec, 200, "", &doc)
	if len(doc.Keys) != 2 || doc.Keys[0]["kid"] != current.ID || doc.Keys[1]["kid"] != retired.ID {
		t.Fatalf("jwks = %s", rec.Body)
	}
	for _, k := range doc.Keys {
		if _, ok := k["d"]; ok {
			t.Fatalf("private key published: %s", rec.Body)
		}
	}
	if err := downstreamVerify(rec.Body.Bytes(), pair.AccessToken); err != nil {
		t.Errorf("a downstream service rejects keygate's token: %v", err)
	}

	// A token signed by a key keygate does not have is refused by both,
	// even if it claims a published kid.
	stranger, _ := auth.NewSigningKey(nil)
	claims := claimsOf(t, pair.AccessToken)
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(claims))
	forged.Header["kid"] = current.ID
	signed, err := forged.SignedString(stranger.Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := downstreamVerify(rec.Body.Bytes(), signed); err == nil {
		t.Error("a downstream service accepts a token from another key")
	}
	want(t, ts.do("GET", "/v1/me", nil, bearer(signed)), 401, "unauthorized", nil)

	// A token from the retired key still verifies until it expires.
	old := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(claims))
	old.Header["kid"] = retired.ID
	oldSigned, err := old.SignedString(retired.Private)
	if err != nil {
		t.Fatal(err)
	}
	want(t, ts.do("GET", "/v1/me", nil, bearer(oldSigned)), 200, "", nil)
}
