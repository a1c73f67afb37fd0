package auth

import (
	"hash/maphash"
	"sync"
	"time"
)

// Sizes of the verified-token cache: tokenCacheShards maps of at most
// tokenShardCap tokens each, so at most 8192 tokens (a few MB) are held.
const (
	tokenCacheShards = 32
	tokenShardCap    = 256
)

// tokenCache remembers the access tokens that passed every check of
// Verify that does not depend on the time (signature, algorithm, kid, iss,
// aud, type, sub), keyed by the exact token text, so a token used on every
// request is parsed and its signature checked only once. A token differing
// in any byte, a forgery with the same claims included, misses and gets
// the full check. The time checks (exp, nbf, iat) are redone on every hit.
//
// A cache belongs to one Tokens, whose keys never change (rotation builds a
// new Tokens, with an empty cache), so a cached token is never accepted by
// keys it was not verified with. Each shard is bounded; entries past their
// exp are dropped when seen and when a full shard makes room. It is safe
// for concurrent use: reads take only their shard's read lock.
type tokenCache struct {
	seed   maphash.Seed
	shards [tokenCacheShards]tokenShard
}

type tokenShard struct {
	mu sync.RWMutex       // guards m
	m  map[string]*Claims // token → its claims; a stored Claims is never modified
}

func newTokenCache() *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*Claims)
	}
	return c
}

func (c *tokenCache) shard(token string) *tokenShard {
	return &c.shards[maphash.String(c.seed, token)%tokenCacheShards]
}

// get returns the claims stored for token, or nil.
func (c *tokenCache) get(token string) *Claims {
	s := c.shard(token)
	s.mu.RLock()
	claims := s.m[token]
	s.mu.RUnlock()
	return claims
}

// put stores claims, which must have an exp, for token. A full shard first
// drops its entries expired at now and, if none was, one entry at random.
func (c *tokenCache) put(token string, claims *Claims, now time.Time) {
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= tokenShardCap {
		s.makeRoomLocked(now)
	}
	s.m[token] = claims
}

// makeRoomLocked frees at least one place in s. Requires s.mu held.
func (s *tokenShard) makeRoomLocked(now time.Time) {
	var victim string
	for token, claims := range s.m {
		if !now.Before(claims.ExpiresAt.Time) {
			delete(s.m, token)
		} else if victim == "" {
			victim = token // map order is random enough to pick one
		}
	}
	if len(s.m) >= tokenShardCap {
		delete(s.m, victim)
	}
}

// drop forgets token, once it has expired.
func (c *tokenCache) drop(token string) {
	s := c.shard(token)
	s.mu.Lock()
	delete(s.m, token)
	s.mu.Unlock()
}

// len is the number of tokens held.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
