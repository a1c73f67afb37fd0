package auth_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/keygate/keygate/auth"
)

// verifyOK verifies token as an access token and fails the test on error.
func verifyOK(t testing.TB, tok *auth.Tokens, token string) *auth.Claims {
	t.Helper()
	c, err := tok.Verify(token, auth.AccessToken)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return c
}

// Tokens that differ from a remembered one in any byte get the full check
// (issue 6: the cache of verified access tokens).
func TestTokens_Verify_CachedTokenNotAForgeryPass(t *testing.T) {
	clk := &testClock{t: t0}
	tok := newTokens(t, clk)
	valid := claimsAt(auth.AccessToken)
	good := hs256(t, valid)
	verifyOK(t, tok, good)
	verifyOK(t, tok, good) // now remembered
	parts := strings.Split(good, ".")
	badSig := []byte(parts[2])
	badSig[0] ^= 1
	forged := map[string]string{
		"same claims, other secret": sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), valid),
		"same claims, alg none":     sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid),
		"same claims, HS512":        sign(t, jwt.SigningMethodHS512, []byte(testSecret), valid),
		"signature changed":         parts[0] + "." + parts[1] + "." + string(badSig),
		"signature dropped":         parts[0] + "." + parts[1] + ".",
		"extra segment":             good + ".x",
	}
	for name, token := range forged {
		t.Run(name, func(t *testing.T) {
			if _, err := tok.Verify(token, auth.AccessToken); !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
}

// A remembered token is checked against the clock on every use.
func TestTokens_Verify_CachedTokenTimes(t *testing.T) {
	clk := &testClock{t: t0}
	tok := newTokens(t, clk)
	access := issue(t, tok, auth.AccessToken)
	notBefore := hs256(t, with(auth.AccessToken, func(c *auth.Claims) { c.NotBefore = jwt.NewNumericDate(t0.Add(time.Minute)) }))
	clk.t = t0.Add(2 * time.Minute)
	verifyOK(t, tok, access)
	verifyOK(t, tok, notBefore)
	tests := []struct {
		name  string
		token string
		at    time.Duration // clock offset from t0
		want  error
	}{
		{"at exp", access, accessTTL, auth.ErrTokenExpired},
		{"after exp", access, accessTTL + time.Hour, auth.ErrTokenExpired},
		{"still expired when asked again", access, accessTTL, auth.ErrTokenExpired},
		{"before iat: the clock went back", access, -time.Second, auth.ErrInvalidToken},
		{"before nbf: the clock went back", notBefore, 30 * time.Second, auth.ErrInvalidToken},
		{"wrong type", access, 0, auth.ErrInvalidToken},
		{"valid again once the clock is back", access, accessTTL - time.Second, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk.t = t0.Add(tc.at)
			typ := auth.AccessToken
			if tc.name == "wrong type" {
				typ = auth.RefreshToken
			}
			c, err := tok.Verify(tc.token, typ)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) || (err == nil) != (c != nil) {
				t.Fatalf("Verify = %v, %v; want %v", c, err, tc.want)
			}
		})
	}
}

// A Tokens built without the key (or secret) a token was remembered under
// refuses it: rotation builds a new Tokens, and the cache is not shared.
func TestTokens_Verify_CachedTokenAfterRotation(t *testing.T) {
	clk := &testClock{t: t0}
	oldKey, newKey := fixedKey(t, "old", 1), fixedKey(t, "new", 2)
	before := newEdTokens(t, clk, oldKey)
	access := issue(t, before, auth.AccessToken)
	verifyOK(t, before, access)
	verifyOK(t, before, access)

	rotated := newEdTokens(t, clk, newKey, verifyOnly(oldKey))
	verifyOK(t, rotated, access) // the old key is still listed

	dropped := newEdTokens(t, clk, newKey)
	if _, err := dropped.Verify(access, auth.AccessToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("Verify after the key was dropped = %v, want ErrInvalidToken", err)
	}

	hs := newTokens(t, clk)
	hsAccess := issue(t, hs, auth.AccessToken)
	verifyOK(t, hs, hsAccess)
	other, err := auth.NewTokens(auth.TokenOptions{Secret: []byte("another-secret-another-secret-xx"),
		Issuer: testIssuer, AccessTTL: accessTTL, RefreshTTL: refreshTTL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(hsAccess, auth.AccessToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("Verify after the secret changed = %v, want ErrInvalidToken", err)
	}
}

// The claims a caller gets are its own to change.
func TestTokens_Verify_CachedClaimsNotShared(t *testing.T) {
	tok := newTokens(t, &testClock{t: t0})
	access := issue(t, tok, auth.AccessToken)
	first := verifyOK(t, tok, access)
	first.Subject, first.SessionID = "usr_evil", "ses_evil"
	second := verifyOK(t, tok, access)
	second.Subject = "usr_other"
	if third := verifyOK(t, tok, access); third.Subject != "usr_1" || third.SessionID != "ses_1" {
		t.Fatalf("claims = %q %q after callers changed theirs", third.Subject, third.SessionID)
	}
}

func TestTokens_Verify_CachedConcurrent(t *testing.T) {
	clk := &testClock{t: t0}
	tok := newTokens(t, clk)
	tokens := make([]string, 16)
	for i := range tokens {
		s, _, err := tok.Issue(auth.AccessToken, "usr_1", "ses_"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = s
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				s := tokens[(g+i)%len(tokens)]
				c, err := tok.Verify(s, auth.AccessToken)
				if err != nil || c.SessionID != "ses_"+string(rune('a'+(g+i)%len(tokens))) {
					t.Errorf("Verify = %v, %v", c, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkVerifyRefreshToken is the full check, which access tokens get
// on first use: refresh tokens are never remembered.
func BenchmarkVerifyRefreshToken(b *testing.B) {
	tok := newTokens(b, &testClock{t: t0})
	s := issue(b, tok, auth.RefreshToken)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tok.Verify(s, auth.RefreshToken); err != nil {
			b.Fatal(err)
		}
	}
}
