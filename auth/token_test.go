package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/keygate/keygate/auth"
)

const (
	testIssuer = "keygate"
	accessTTL  = 15 * time.Minute
	refreshTTL = 30 * 24 * time.Hour
)

// testClock is a settable fixed clock.
type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time { return c.t }

func newTokens(t testing.TB, clk *testClock) *auth.Tokens {
	t.Helper()
	tok, err := auth.NewTokens(auth.TokenOptions{
		Secret:     []byte(testSecret),
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

func issue(t testing.TB, tok *auth.Tokens, typ auth.TokenType) string {
	t.Helper()
	s, _, err := tok.Issue(typ, "usr_1", "ses_1")
	if err != nil {
		t.Fatalf("Issue(%s): %v", typ, err)
	}
	return s
}

// claimsAt returns valid claims of type typ issued at t0.
func claimsAt(typ auth.TokenType) auth.Claims {
	ttl := accessTTL
	c := auth.Claims{Type: typ, SessionID: "ses_1", RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    testIssuer,
		Subject:   "usr_1",
		IssuedAt:  jwt.NewNumericDate(t0),
		ExpiresAt: jwt.NewNumericDate(t0.Add(ttl)),
	}}
	if typ == auth.RefreshToken {
		c.ID = "jti-1"
	}
	return c
}

// with returns claimsAt(typ) modified by f.
func with(typ auth.TokenType, f func(*auth.Claims)) auth.Claims {
	c := claimsAt(typ)
	f(&c)
	return c
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c auth.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatalf("signing with %s: %v", m.Alg(), err)
	}
	return s
}

func hs256(t testing.TB, c auth.Claims) string {
	t.Helper()
	return sign(t, jwt.SigningMethodHS256, []byte(testSecret), c)
}

// noneByHand builds an unsigned token without the jwt library.
func noneByHand(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "."
}

func TestTokens_Verify(t *testing.T) {
	clk := &testClock{t: t0}
	tok := newTokens(t, clk)
	access, refresh := issue(t, tok, auth.AccessToken), issue(t, tok, auth.RefreshToken)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	valid := claimsAt(auth.AccessToken)
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
		{"expired and wrong type", access, auth.RefreshToken, accessTTL, auth.ErrInvalidToken},
		{"expired and wrong issuer", hs256(t, with(auth.AccessToken, func(c *auth.Claims) { c.Issuer = "evil" })), auth.AccessToken, accessTTL, auth.ErrInvalidToken},
		{"forged: other secret", sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"forged: tampered payload", strings.Join(tampered, "."), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"alg none by hand", noneByHand(`{"type":"access","sub":"usr_1","iss":"keygate","iat":1795694400,"exp":1795695300}`), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"alg none by library", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"HS384 same secret", sign(t, jwt.SigningMethodHS384, []byte(testSecret), valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"HS512 same secret", sign(t, jwt.SigningMethodHS512, []byte(testSecret), valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, edKey, valid), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"wrong issuer", hs256(t, with(auth.AccessToken, func(c *auth.Claims) { c.Issuer = "evil" })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"missing issuer", hs256(t, with(auth.AccessToken, func(c *auth.Claims) { c.Issuer = "" })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"missing exp", hs256(t, with(auth.AccessToken, func(c *auth.Claims) { c.ExpiresAt = nil })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"missing sub", hs256(t, with(auth.AccessToken, func(c *auth.Claims) { c.Subject = "" })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"missing type", hs256(t, with(auth.AccessToken, func(c *auth.Claims) { c.Type = "" })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"refresh without jti", hs256(t, with(auth.RefreshToken, func(c *auth.Claims) { c.ID = "" })), auth.RefreshToken, 0, auth.ErrInvalidToken},
		{"future iat", hs256(t, with(auth.AccessToken, func(c *auth.Claims) { c.IssuedAt = jwt.NewNumericDate(t0.Add(time.Minute)) })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"future nbf", hs256(t, with(auth.AccessToken, func(c *auth.Claims) { c.NotBefore = jwt.NewNumericDate(t0.Add(time.Minute)) })), auth.AccessToken, 0, auth.ErrInvalidToken},
		{"access used as refresh", access, auth.RefreshToken, 0, auth.ErrInvalidToken},
		{"refresh used as access", refresh, auth.AccessToken, 0, auth.ErrInvalidToken},
		{"unknown expected type", access, auth.TokenType("admin"), 0, auth.ErrInvalidToken},
		{"garbage: empty", "", auth.AccessToken, 0, auth.ErrInvalidToken},
		{"garbage: word", "hello", auth.AccessToken, 0, auth.ErrInvalidToken},
		{"garbage: dots", "...", auth.AccessToken, 0, auth.ErrInvalidToken},
		{"garbage: three parts", "a.b.c", auth.AccessToken, 0, auth.ErrInvalidToken},
		{"garbage: api key", "kg_live_0123456789abcdefghijABCDEFGHIJ0123456789abc", auth.AccessToken, 0, auth.ErrInvalidToken},
		{"garbage: extra segment", access + ".x", auth.AccessToken, 0, auth.ErrInvalidToken},
		{"valid access just before expiry", access, auth.AccessToken, accessTTL - time.Second, nil},
		{"valid access", access, auth.AccessToken, 0, nil},
		{"valid refresh", refresh, auth.RefreshToken, time.Hour, nil},
		{"valid hand-signed", hs256(t, valid), auth.AccessToken, 0, nil},
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

func TestTokens_Issue(t *testing.T) {
	clk := &testClock{t: t0.Add(500 * time.Millisecond)} // sub-second part is dropped
	tok := newTokens(t, clk)
	tests := []struct {
		typ     auth.TokenType
		ttl     time.Duration
		wantJTI bool
	}{
		{auth.AccessToken, accessTTL, false},
		{auth.RefreshToken, refreshTTL, true},
	}
	for _, tc := range tests {
		t.Run(string(tc.typ), func(t *testing.T) {
			s, c, err := tok.Issue(tc.typ, "usr_1", "ses_1")
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if c.Type != tc.typ || c.Subject != "usr_1" || c.SessionID != "ses_1" || c.Issuer != testIssuer {
				t.Errorf("claims = %+v", c)
			}
			if !c.IssuedAt.Equal(t0) || !c.ExpiresAt.Equal(t0.Add(tc.ttl)) {
				t.Errorf("iat, exp = %v, %v; want %v, %v", c.IssuedAt, c.ExpiresAt, t0, t0.Add(tc.ttl))
			}
			if got := c.ID != ""; got != tc.wantJTI {
				t.Errorf("jti = %q, want present %v", c.ID, tc.wantJTI)
			}
			if tc.wantJTI && len(c.ID) < 22 {
				t.Errorf("jti %q shorter than 128 bits", c.ID)
			}
			got, err := tok.Verify(s, tc.typ)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.ID != c.ID || !got.ExpiresAt.Equal(c.ExpiresAt.Time) || got.SessionID != c.SessionID {
				t.Errorf("Verify claims = %+v, Issue claims = %+v", got, c)
			}
		})
	}
}

func TestTokens_Issue_Errors(t *testing.T) {
	tok := newTokens(t, &testClock{t: t0})
	failing, err := auth.NewTokens(auth.TokenOptions{
		Secret: []byte(testSecret), Issuer: testIssuer, AccessTTL: time.Minute, RefreshTTL: time.Hour,
		Rand: failReader{},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tok  *auth.Tokens
		typ  auth.TokenType
		user string
	}{
		{"unknown type", tok, auth.TokenType("admin"), "usr_1"},
		{"empty type", tok, "", "usr_1"},
		{"empty user", tok, auth.AccessToken, ""},
		{"failing rand", failing, auth.RefreshToken, "usr_1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s, _, err := tc.tok.Issue(tc.typ, tc.user, ""); err == nil {
				t.Fatalf("Issue = %q, nil; want an error", s)
			}
		})
	}
}

func TestTokens_JTIUnique(t *testing.T) {
	tok, err := auth.NewTokens(auth.TokenOptions{ // Rand nil: crypto/rand
		Secret: []byte(testSecret), Issuer: testIssuer, AccessTTL: time.Minute, RefreshTTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 100 {
		_, c, err := tok.Issue(auth.RefreshToken, "usr_1", "ses_1")
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ID] {
			t.Fatalf("duplicate jti %q", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestNewTokens_Options(t *testing.T) {
	ok := auth.TokenOptions{Secret: []byte(testSecret), Issuer: "k", AccessTTL: time.Minute, RefreshTTL: time.Hour}
	tests := []struct {
		name    string
		mod     func(*auth.TokenOptions)
		wantErr bool
	}{
		{"short secret", func(o *auth.TokenOptions) { o.Secret = o.Secret[:31] }, true},
		{"nil secret", func(o *auth.TokenOptions) { o.Secret = nil }, true},
		{"empty issuer", func(o *auth.TokenOptions) { o.Issuer = "" }, true},
		{"zero access ttl", func(o *auth.TokenOptions) { o.AccessTTL = 0 }, true},
		{"negative refresh ttl", func(o *auth.TokenOptions) { o.RefreshTTL = -time.Second }, true},
		{"ok with nil Now and Rand", func(*auth.TokenOptions) {}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			tok, err := auth.NewTokens(o)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewTokens error = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && (tok.AccessTTL() != o.AccessTTL || tok.RefreshTTL() != o.RefreshTTL) {
				t.Errorf("TTLs = %v, %v", tok.AccessTTL(), tok.RefreshTTL())
			}
		})
	}
}

func TestNewTokens_SecretCopied(t *testing.T) {
	secret := []byte(testSecret)
	tok, err := auth.NewTokens(auth.TokenOptions{Secret: secret, Issuer: "k", AccessTTL: time.Minute, RefreshTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := issue(t, tok, auth.AccessToken)
	secret[0] ^= 0xff
	if _, err := tok.Verify(s, auth.AccessToken); err != nil {
		t.Fatalf("Verify after caller changed its secret slice: %v", err)
	}
}

func TestTokens_Concurrent(t *testing.T) {
	tok := newTokens(t, &testClock{t: t0})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				s, _, err := tok.Issue(auth.RefreshToken, "usr_1", "ses_1")
				if err == nil {
					_, err = tok.Verify(s, auth.RefreshToken)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkVerifyAccessToken(b *testing.B) {
	tok := newTokens(b, &testClock{t: t0})
	s := issue(b, tok, auth.AccessToken)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tok.Verify(s, auth.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}
