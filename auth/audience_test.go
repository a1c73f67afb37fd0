package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keygate/keygate/auth"
)

// With an audience, tokens carry it and tokens without it, or minted for
// another audience by the same issuer and secret, are refused (ASVS 9.2.3).
func TestTokens_Audience(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	opts := func(aud string) auth.TokenOptions {
		return auth.TokenOptions{Secret: []byte(testSecret), Issuer: "keygate", Audience: aud,
			AccessTTL: time.Minute, RefreshTTL: time.Hour, Now: func() time.Time { return now }}
	}
	ours, err := auth.NewTokens(opts("keygate"))
	if err != nil {
		t.Fatal(err)
	}
	token, claims, err := ours.Issue(auth.AccessToken, "usr_1", "ses_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(claims.Audience) != 1 || claims.Audience[0] != "keygate" {
		t.Fatalf("aud = %v", claims.Audience)
	}
	if _, err := ours.Verify(token, auth.AccessToken); err != nil {
		t.Fatalf("own token: %v", err)
	}
	sign := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "usr_1", "sid": "ses_1", "type": "access", "iss": "keygate",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	other := base()
	other["aud"] = "billing"
	for name, tok := range map[string]string{"no aud": sign(base()), "other aud": sign(other)} {
		if _, err := ours.Verify(tok, auth.AccessToken); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
	// Without an audience configured, none is written or required.
	plain, err := auth.NewTokens(opts(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Verify(sign(base()), auth.AccessToken); err != nil {
		t.Errorf("no audience configured: %v", err)
	}
}
