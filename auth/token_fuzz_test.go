package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/auth"
)

// FuzzVerify: whatever string arrives as a token, Verify returns claims
// only for a token this Tokens signed, and otherwise one of its two
// errors; it never panics.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tokens, err := auth.NewTokens(auth.TokenOptions{Secret: []byte(testSecret), Issuer: "keygate", Audience: "keygate",
		AccessTTL: time.Minute, RefreshTTL: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	good, _, err := tokens.Issue(auth.AccessToken, "usr_1", "ses_1")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", ".", "..", "a.b.c", good, good + "x", good[:len(good)-2],
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := tokens.Verify(token, auth.AccessToken)
		switch {
		case err == nil && (c == nil || c.Subject == "" || c.Type != auth.AccessToken):
			t.Fatalf("accepted %q with claims %+v", token, c)
		case err != nil && !errors.Is(err, auth.ErrInvalidToken) && !errors.Is(err, auth.ErrTokenExpired):
			t.Fatalf("%q: unexpected error %v", token, err)
		}
	})
}
