package auth_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/keygate/keygate/auth"
)

// newEdTokens returns an EdDSA Tokens on clk signing with keys[0].
func newEdTokens(t testing.TB, clk *testClock, keys ...auth.SigningKey) *auth.Tokens {
	t.Helper()
	tok, err := auth.NewTokens(auth.TokenOptions{
		Algorithm:  auth.EdDSA,
		Keys:       keys,
		Issuer:     testIssuer,
		AccessTTL:  accessTTL,
		RefreshTTL: refreshTTL,
		Now:        clk.Now,
		Rand:       &seqReader{},
	})
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	return tok
}

// signKID signs c with method m and key, with a "kid" header of kid unless
// kid is nil.
func signKID(t testing.TB, m jwt.SigningMethod, key any, kid any, c auth.Claims) string {
	t.Helper()
	jt := jwt.NewWithClaims(m, c)
	if kid != nil {
		jt.Header["kid"] = kid
	}
	s, err := jt.SignedString(key)
	if err != nil {
		t.Fatalf("signing with %s: %v", m.Alg(), err)
	}
	return s
}

// header returns the decoded header of token s, unverified.
func header(t testing.TB, s string) map[string]any {
	t.Helper()
	jt, _, err := jwt.NewParser().ParseUnverified(s, &auth.Claims{})
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	return jt.Header
}

func TestTokens_EdDSA_RoundTrip(t *testing.T) {
	clk := &testClock{t: t0}
	cur := fixedKey(t, "cur", 1)
	tok := newEdTokens(t, clk, cur, verifyOnly(fixedKey(t, "old", 2)))
	tests := []struct {
		typ     auth.TokenType
		wantJTI bool
	}{
		{auth.AccessToken, false},
		{auth.RefreshToken, true},
	}
	for _, tc := range tests {
		t.Run(string(tc.typ), func(t *testing.T) {
			s, c, err := tok.Issue(tc.typ, "usr_1", "ses_1")
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if h := header(t, s); h["alg"] != "EdDSA" || h["kid"] != "cur" {
				t.Errorf("header = %v, want alg EdDSA and kid cur", h)
			}
			if got := c.ID != ""; got != tc.wantJTI {
				t.Errorf("jti = %q, want present %v", c.ID, tc.wantJTI)
			}
			got, err := tok.Verify(s, tc.typ)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != "usr_1" || got.SessionID != "ses_1" || got.ID != c.ID || !got.ExpiresAt.Equal(c.ExpiresAt.Time) {
				t.Errorf("Verify claims = %+v, Issue claims = %+v", got, c)
			}
		})
	}
	if tok.Algorithm() != auth.EdDSA {
		t.Errorf("Algorithm = %q, want %q", tok.Algorithm(), auth.EdDSA)
	}
}

func TestTokens_Verify_EdDSA(t *testing.T) {
	clk := &testClock{t: t0}
	cur, old := fixedKey(t, "cur", 1), fixedKey(t, "old", 2)
	stranger := fixedKey(t, "cur", 3) // another key claiming a known kid
	tok := newEdTokens(t, clk, cur, verifyOnly(old))
	access, refresh := issue(t, tok, auth.AccessToken), issue(t, tok, auth.RefreshToken)
	before := newEdTokens(t, clk, old) // the Tokens before the rotation
	oldAccess, oldRefresh := issue(t, before, auth.AccessToken), issue(t, before, auth.RefreshToken)
	hsAccess := issue(t, newTokens(t, clk), auth.AccessToken)
	jwk, _ := tok.JWKS()

	valid := claimsAt(auth.AccessToken)
	ed := func(c auth.Claims) string { return signKID(t, jwt.SigningMethodEdDSA, cur.Private, "cur", c) }
	tampered := strings.Split(access, ".")
	tampered[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"type":"access","sub":"usr_admin","iss":"keygate","iat":1795694400,"exp":1795695300}`))

	tests := []struct {
		name  string
		token string
		typ   auth.TokenType
		at    time.Duration // clock offset from t0
		want  error
	}{
		{"expired access", access, auth.AccessToken, accessTTL, auth.ErrTokenExpired},
		{"expired refresh", refresh, auth.RefreshToken, refreshTTL + time.Hour, auth.ErrTokenExpired},
		{"expired from old key", oldAccess, auth.AccessToken, accessTTL, auth.ErrTokenExpired},
		{"expired and wrong type", access, auth.RefreshToken, accessTTL, auth.ErrInvalidToken},
		{"expired and unknown kid", signKID(t, jwt.SigningMethodEdDSA, stranger.Private, "nope", valid), auth.AccessToken, accessTTL, auth.ErrInvalidToken},
		{"expired and other key", signKID(t, jwt.SigningMethodEdDSA, stranger.Private, "cur", valid), auth.AccessToken, accessTTL, auth.ErrInvalidToken},
		{"forged: other key, known kid", signKID(t, jwt.SigningMethodEdDSA, stranger.Private, "cur", valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"forged: old kid, current key", signKID(t, jwt.SigningMethodEdDSA, cur.Private, "old", valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"forged: tampered payload", strings.Join(tampered, "."), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"unknown kid", signKID(t, jwt.SigningMethodEdDSA, stranger.Private, "nope", valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"unknown kid, current key", signKID(t, jwt.SigningMethodEdDSA, cur.Private, "nope", valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"no kid", signKID(t, jwt.SigningMethodEdDSA, cur.Private, nil, valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"empty kid", signKID(t, jwt.SigningMethodEdDSA, cur.Private, "", valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"numeric kid", signKID(t, jwt.SigningMethodEdDSA, cur.Private, 1, valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"alg confusion: HS256 with raw public key", signKID(t, jwt.SigningMethodHS256, []byte(cur.Public), "cur", valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"alg confusion: HS256 with jwk x", signKID(t, jwt.SigningMethodHS256, []byte(jwk.Keys[0].X), "cur", valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"alg confusion: HS256 with private key", signKID(t, jwt.SigningMethodHS256, []byte(cur.Private), "cur", valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"HS256 keygate token", hsAccess, auth.AccessToken, 0, auth.ErrInvalidToken},
		{"alg none by library", signKID(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "cur", valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"alg none by hand", noneByHand(`{"type":"access","sub":"usr_1","iss":"keygate","iat":1795694400,"exp":1795695300}`), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"wrong issuer", ed(with(auth.AccessToken, func(c *auth.Claims) { c.Issuer = "evil" })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"missing exp", ed(with(auth.AccessToken, func(c *auth.Claims) { c.ExpiresAt = nil })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"missing sub", ed(with(auth.AccessToken, func(c *auth.Claims) { c.Subject = "" })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"missing type", ed(with(auth.AccessToken, func(c *auth.Claims) { c.Type = "" })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"refresh without jti", ed(with(auth.RefreshToken, func(c *auth.Claims) { c.ID = "" })), auth.RefreshToken, 0, auth.ErrInvalidToken},
		{"future iat", ed(with(auth.AccessToken, func(c *auth.Claims) { c.IssuedAt = jwt.NewNumericDate(t0.Add(time.Minute)) })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"access used as refresh", access, auth.RefreshToken, 0, auth.ErrInvalidToken},
		{"refresh used as access", refresh, auth.AccessToken, 0, auth.ErrInvalidToken},
		{"garbage: three parts", "a.b.c", auth.AccessToken, 0, auth.ErrInvalidToken},
		{"valid access", access, auth.AccessToken, 0, nil},
		{"valid refresh", refresh, auth.RefreshToken, time.Hour, nil},
		{"valid from verify-only old key", oldAccess, auth.AccessToken, accessTTL - time.Second, nil},
		{"valid refresh from verify-only old key", oldRefresh, auth.RefreshToken, time.Hour, nil},
		{"valid hand-signed", ed(valid), auth.AccessToken, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk.t = t0.Add(tc.at)
			c, err := tok.Verify(tc.token, tc.typ)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil && tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("error %q contains the token", err)
			}
			if (err == nil) != (c != nil) {
				t.Errorf("Verify returned claims %v with error %v", c, err)
			}
		})
	}
}

// TestTokens_Verify_AlgorithmPinned checks that an HS256 Tokens refuses
// genuine EdDSA tokens of the same issuer, and an EdDSA Tokens HS256 ones.
func TestTokens_Verify_AlgorithmPinned(t *testing.T) {
	clk := &testClock{t: t0}
	hs := newTokens(t, clk)
	ed := newEdTokens(t, clk, fixedKey(t, "cur", 1))
	tests := []struct {
		name       string
		issuer, by *auth.Tokens
	}{
		{"HS256 refuses EdDSA", ed, hs},
		{"EdDSA refuses HS256", hs, ed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, typ := range []auth.TokenType{auth.AccessToken, auth.RefreshToken} {
				if _, err := tc.by.Verify(issue(t, tc.issuer, typ), typ); !errors.Is(err, auth.ErrInvalidToken) {
					t.Errorf("Verify(%s) = %v, want ErrInvalidToken", typ, err)
				}
			}
		})
	}
}

func TestNewTokens_EdDSAOptions(t *testing.T) {
	cur, old := fixedKey(t, "cur", 1), fixedKey(t, "old", 2)
	ok := auth.TokenOptions{Algorithm: auth.EdDSA, Keys: []auth.SigningKey{cur}, Issuer: "k", AccessTTL: time.Minute, RefreshTTL: time.Hour}
	keys := func(k ...auth.SigningKey) func(*auth.TokenOptions) {
		return func(o *auth.TokenOptions) { o.Keys = k }
	}
	tests := []struct {
		name    string
		mod     func(*auth.TokenOptions)
		wantAlg string // empty: want an error
	}{
		{"no keys", keys(), ""},
		{"first key verify-only", keys(verifyOnly(cur), old), ""},
		{"duplicate kid", keys(cur, auth.SigningKey{ID: "cur", Public: old.Public}), ""},
		{"empty kid", keys(auth.SigningKey{Private: cur.Private, Public: cur.Public}), ""},
		{"kid with slash", keys(cur, auth.SigningKey{ID: "a/b", Public: old.Public}), ""},
		{"kid too long", keys(cur, auth.SigningKey{ID: strings.Repeat("k", 65), Public: old.Public}), ""},
		{"short public key", keys(cur, auth.SigningKey{ID: "old", Public: old.Public[:31]}), ""},
		{"missing public key", keys(auth.SigningKey{ID: "cur", Private: cur.Private}), ""},
		{"private key of another public key", keys(auth.SigningKey{ID: "cur", Private: cur.Private, Public: old.Public}), ""},
		{"short private key", keys(auth.SigningKey{ID: "cur", Private: cur.Private[:32], Public: cur.Public}), ""},
		{"empty issuer", func(o *auth.TokenOptions) { o.Issuer = "" }, ""},
		{"zero ttl", func(o *auth.TokenOptions) { o.AccessTTL = 0 }, ""},
		{"unknown algorithm", func(o *auth.TokenOptions) { o.Algorithm = "RS256" }, ""},
		{"algorithm is case-sensitive", func(o *auth.TokenOptions) { o.Algorithm = "eddsa" }, ""},
		{"HS256 with keys", func(o *auth.TokenOptions) { o.Algorithm, o.Secret = auth.HS256, []byte(testSecret) }, ""},
		{"default algorithm with keys", func(o *auth.TokenOptions) { o.Algorithm, o.Secret = "", []byte(testSecret) }, ""},
		{"ok: one key", func(*auth.TokenOptions) {}, auth.EdDSA},
		{"ok: with verify-only keys", keys(cur, verifyOnly(old), auth.SigningKey{ID: "a-b_C9", Public: fixedKey(t, "x", 3).Public}), auth.EdDSA},
		{"ok: old key still has its private key", keys(cur, old), auth.EdDSA},
		{"ok: secret ignored", func(o *auth.TokenOptions) { o.Secret = []byte("short") }, auth.EdDSA},
		{"ok: HS256 explicit", func(o *auth.TokenOptions) { o.Algorithm, o.Secret, o.Keys = auth.HS256, []byte(testSecret), nil }, auth.HS256},
		{"ok: HS256 by default", func(o *auth.TokenOptions) { o.Algorithm, o.Secret, o.Keys = "", []byte(testSecret), nil }, auth.HS256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			tok, err := auth.NewTokens(o)
			if (err != nil) != (tc.wantAlg == "") {
				t.Fatalf("NewTokens error = %v, want error %v", err, tc.wantAlg == "")
			}
			if err == nil && tok.Algorithm() != tc.wantAlg {
				t.Errorf("Algorithm = %q, want %q", tok.Algorithm(), tc.wantAlg)
			}
		})
	}
}

func TestNewTokens_KeysCopied(t *testing.T) {
	clk := &testClock{t: t0}
	cur, old := fixedKey(t, "cur", 1), fixedKey(t, "old", 2)
	keys := []auth.SigningKey{
		{ID: cur.ID, Private: append(ed25519.PrivateKey(nil), cur.Private...), Public: append(ed25519.PublicKey(nil), cur.Public...)},
		{ID: old.ID, Public: append(ed25519.PublicKey(nil), old.Public...)},
	}
	tok := newEdTokens(t, clk, keys...)
	oldAccess := issue(t, newEdTokens(t, clk, old), auth.AccessToken)
	want, _ := tok.JWKS()
	for _, k := range keys {
		clear(k.Private)
		clear(k.Public)
	}
	keys[0].ID = "changed"

	if _, err := tok.Verify(issue(t, tok, auth.AccessToken), auth.AccessToken); err != nil {
		t.Errorf("Verify own token after caller changed its keys: %v", err)
	}
	if _, err := tok.Verify(oldAccess, auth.AccessToken); err != nil {
		t.Errorf("Verify old token after caller changed its keys: %v", err)
	}
	if got, _ := tok.JWKS(); got.Keys[0] != want.Keys[0] || got.Keys[1] != want.Keys[1] {
		t.Errorf("JWKS = %+v, want %+v", got, want)
	}
}

func BenchmarkVerifyAccessTokenEdDSA(b *testing.B) {
	tok := newEdTokens(b, &testClock{t: t0}, fixedKey(b, "cur", 1), verifyOnly(fixedKey(b, "old", 2)))
	s := issue(b, tok, auth.AccessToken)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tok.Verify(s, auth.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}
