package auth

import (
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var cacheT0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func expiringAt(t time.Time) *Claims {
	return &Claims{Type: AccessToken, RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(t)}}
}

// However many tokens pass, the cache holds at most its capacity.
func TestTokenCache_Bounded(t *testing.T) {
	tok, err := NewTokens(TokenOptions{Secret: []byte("0123456789abcdef0123456789abcdef"),
		Issuer: "keygate", AccessTTL: time.Hour, RefreshTTL: time.Hour, Now: func() time.Time { return cacheT0 }})
	if err != nil {
		t.Fatal(err)
	}
	const capacity = tokenCacheShards * tokenShardCap
	for i := range capacity + capacity/8 {
		s, _, err := tok.Issue(AccessToken, "usr_1", "ses_"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tok.Verify(s, AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	if n := tok.verified.len(); n > capacity || n < capacity/2 {
		t.Fatalf("cache holds %d tokens, want at most %d (and most of them)", n, capacity)
	}
}

// A full shard drops its expired tokens before anything else.
func TestTokenCache_FullShardDropsExpired(t *testing.T) {
	c := newTokenCache()
	for i := range tokenCacheShards * tokenShardCap * 2 {
		c.put("old"+strconv.Itoa(i), expiringAt(cacheT0.Add(time.Minute)), cacheT0)
	}
	later := cacheT0.Add(time.Hour)
	c.put("fresh", expiringAt(later.Add(time.Minute)), later)
	s := c.shard("fresh")
	if n := len(s.m); n != 1 {
		t.Fatalf("shard holds %d tokens after a put past every exp, want 1", n)
	}
	if c.get("fresh") == nil {
		t.Fatal("fresh token not stored")
	}
}
