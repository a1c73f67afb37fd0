package auth

import (
	"encoding/base64"
	"slices"
)

// JWK is the RFC 7517/8037 JSON Web Key of an Ed25519 public key:
// {"kty":"OKP","crv":"Ed25519","x":<base64url raw public key>,"kid":..,
// "alg":"EdDSA","use":"sig"}. It never carries private material.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKSet is an RFC 7517 JWK Set document: marshal it with encoding/json and
// serve it so that other services can verify keygate's tokens. The zero value
// is an empty set, though its nil Keys marshal as null.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// jwk returns the public JWK of k.
func (k SigningKey) jwk() JWK {
	return JWK{
		Kty: "OKP",
		Crv: "Ed25519",
		X:   base64.RawURLEncoding.EncodeToString(k.Public),
		Kid: k.ID,
		Alg: EdDSA,
		Use: "sig",
	}
}

// JWKS returns the public keys of an EdDSA Tokens as a JWK Set, the signing
// key first and then the verify-only keys in TokenOptions.Keys order. The set
// is a fresh copy the caller may modify. ok is false, and the set empty, for
// HS256: a symmetric secret must never be published.
func (t *Tokens) JWKS() (set JWKSet, ok bool) {
	if t.alg != EdDSA {
		return JWKSet{}, false
	}
	return JWKSet{Keys: slices.Clone(t.jwks)}, true
}
