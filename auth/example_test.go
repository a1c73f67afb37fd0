package auth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate/auth"
	"golang.org/x/crypto/bcrypt"
)

func ExampleNewKey() {
	// Production code passes nil (crypto/rand); a fixed reader makes the
	// output reproducible.
	raw, hash, display, err := auth.NewKey("kg_live_", &seqReader{})
	if err != nil {
		panic(err)
	}
	fmt.Println(raw)     // shown to the user once
	fmt.Println(display) // stored and listed
	fmt.Println(hash == auth.HashKey(raw))
	// Output:
	// kg_live_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg
	// kg_live_0123
	// true
}

func ExampleParseKey() {
	raw, stored, _, err := auth.NewKey("kg_live_", nil)
	if err != nil {
		panic(err)
	}
	hash, err := auth.ParseKey("kg_live_", raw)
	fmt.Println(hash == stored, err)
	_, err = auth.ParseKey("kg_live_", "kg_live_short")
	fmt.Println(err)
	// Output:
	// true <nil>
	// auth: malformed api key
}

func ExampleParseBearer() {
	token, ok := auth.ParseBearer("Bearer kg_live_abc")
	fmt.Println(token, ok)
	_, ok = auth.ParseBearer("Basic dXNlcjpwYXNz")
	fmt.Println(ok)
	// Output:
	// kg_live_abc true
	// false
}

func ExampleNewID() {
	id, err := auth.NewID("usr_", &seqReader{})
	fmt.Println(id, err)
	// Output: usr_0123456789ABCDEFGHIJ <nil>
}

func ExampleTokens() {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tok, err := auth.NewTokens(auth.TokenOptions{
		Secret:     []byte("0123456789abcdef0123456789abcdef"),
		Issuer:     "keygate",
		AccessTTL:  15 * time.Minute,
		RefreshTTL: 30 * 24 * time.Hour,
		Now:        func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	access, _, err := tok.Issue(auth.AccessToken, "usr_1", "ses_1")
	if err != nil {
		panic(err)
	}

	c, err := tok.Verify(access, auth.AccessToken)
	fmt.Println(c.Subject, c.SessionID, c.ExpiresAt.Sub(now), err)

	_, err = tok.Verify(access, auth.RefreshToken)
	fmt.Println(errors.Is(err, auth.ErrInvalidToken))

	now = now.Add(time.Hour)
	_, err = tok.Verify(access, auth.AccessToken)
	fmt.Println(err)
	// Output:
	// usr_1 ses_1 15m0s <nil>
	// true
	// auth: token expired
}

func ExampleTokens_JWKS() {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	opts := auth.TokenOptions{
		Algorithm:  auth.EdDSA,
		Issuer:     "keygate",
		AccessTTL:  15 * time.Minute,
		RefreshTTL: 30 * 24 * time.Hour,
		Now:        func() time.Time { return now },
	}
	// Production code passes nil (crypto/rand) and stores ID and Seed(); a
	// fixed reader makes the output reproducible.
	r := &seqReader{}
	first, err := auth.NewSigningKey(r)
	if err != nil {
		panic(err)
	}
	opts.Keys = []auth.SigningKey{first}
	before, err := auth.NewTokens(opts)
	if err != nil {
		panic(err)
	}
	old, _, err := before.Issue(auth.AccessToken, "usr_1", "ses_1")
	if err != nil {
		panic(err)
	}

	// Rotation: a new signing key; the first one stays, verify-only, until
	// its tokens have expired.
	second, err := auth.NewSigningKey(r)
	if err != nil {
		panic(err)
	}
	opts.Keys = []auth.SigningKey{second, {ID: first.ID, Public: first.Public}}
	tok, err := auth.NewTokens(opts)
	if err != nil {
		panic(err)
	}
	c, err := tok.Verify(old, auth.AccessToken)
	fmt.Println(tok.Algorithm(), c.Subject, err)

	set, ok := tok.JWKS() // serve this, e.g. at /.well-known/jwks.json
	doc, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		panic(err)
	}
	fmt.Println(ok)
	fmt.Println(string(doc))
	// Output:
	// EdDSA usr_1 <nil>
	// true
	// {
	//   "keys": [
	//     {
	//       "kty": "OKP",
	//       "crv": "Ed25519",
	//       "x": "17R0muMRmg4KEVnktEwHg0dCSIhS03z2ROmuEvQUq-c",
	//       "kid": "qrstuvwxyz0123456789",
	//       "alg": "EdDSA",
	//       "use": "sig"
	//     },
	//     {
	//       "kty": "OKP",
	//       "crv": "Ed25519",
	//       "x": "YNoA5eHPh3-o0yGfWvq4bQGoZpyF7_e-we0wks06Tq0",
	//       "kid": "0123456789ABCDEFGHIJ",
	//       "alg": "EdDSA",
	//       "use": "sig"
	//     }
	//   ]
	// }
}

func ExampleHasher() {
	h, err := auth.NewHasher(bcrypt.MinCost) // use bcrypt.DefaultCost or more in production
	if err != nil {
		panic(err)
	}
	hash, err := h.Hash("correct horse battery")
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Check(hash, "correct horse battery"))
	fmt.Println(h.Check(hash, "wrong horse battery"))
	fmt.Println(h.Check(nil, "correct horse battery")) // unknown user
	// Output:
	// <nil>
	// auth: invalid credentials
	// auth: invalid credentials
}
