package server

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/storage"
)

const (
	keyShards       = 64
	maxMissPerShard = 1024 // unknown hashes remembered per shard
)

// keyEntry is what the hot path knows of one API key and its owner. The
// plain fields are fixed when the entry is made; anything that changes
// them (revocation, rotation) replaces the entry through invalidate.
//
// A server holds one per active key, so it is kept small: id, userID and
// lineage share one allocation (lineage is id itself for a key never
// rotated), tier is the tier table's own copy of the name, and of the
// owner's tiers only the answer that matters is kept.
type keyEntry struct {
	id, userID, lineage, tier string
	expiresAt, revokedAt      int64 // unix nanoseconds; 0: never
	ownerDisabled             bool
	ownerHasTier              bool // the owner holds tier; a change to the owner's tiers invalidates the entry

	used lastUse      // the latest admitted use
	seen atomic.Int64 // unix nanoseconds of the latest lookup, for eviction
}

// newKeyEntry makes the entry for k and its owner. tiers is the current
// tier table, whose names the entry shares.
func newKeyEntry(k storage.APIKey, owner storage.User, tiers map[string]*tier) *keyEntry {
	e := &keyEntry{
		expiresAt: unixNano(k.ExpiresAt), revokedAt: unixNano(k.RevokedAt),
		ownerDisabled: owner.Disabled, ownerHasTier: slices.Contains(owner.Tiers, k.Tier),
	}
	e.id, e.userID, e.lineage = packIDs(k.ID, k.UserID, k.Lineage)
	if t := tiers[k.Tier]; t != nil {
		e.tier = t.name
	} else {
		e.tier = strings.Clone(k.Tier) // not a configured tier: keep none of the decoded record alive
	}
	e.used.id = e.id
	e.used.at.Store(unixNano(k.LastUsedAt))
	e.used.flushed.Store(e.used.at.Load())
	return e
}

// packIDs copies id, userID and lineage into one allocation and returns
// them as substrings of it. A lineage equal to id is not stored twice.
func packIDs(id, userID, lineage string) (string, string, string) {
	same := lineage == id
	if same {
		lineage = ""
	}
	var b strings.Builder
	b.Grow(len(id) + len(userID) + len(lineage))
	b.WriteString(id)
	b.WriteString(userID)
	b.WriteString(lineage)
	all := b.String()
	i, u := len(id), len(id)+len(userID)
	if same {
		return all[:i], all[i:u], all[:i]
	}
	return all[:i], all[i:u], all[u:]
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// keyCache maps key hashes to entries, and remembers a bounded number of
// hashes that matched no key. It is sharded so the hot path takes no
// global lock.
type keyCache struct {
	shards [keyShards]keyShard
	dirty  dirtyList // last uses not yet flushed
}

type keyShard struct {
	mu sync.RWMutex // guards everything below
	// gen counts invalidations. A lookup that missed reads gen before going
	// to the store and caches what it found only if gen has not moved, so a
	// revocation committed meanwhile is never hidden by a stale entry.
	gen  uint64
	hits map[auth.KeyHash]*keyEntry
	miss map[auth.KeyHash]struct{}
}

func newKeyCache() *keyCache {
	c := &keyCache{}
	for i := range c.shards {
		c.shards[i].hits = make(map[auth.KeyHash]*keyEntry)
		c.shards[i].miss = make(map[auth.KeyHash]struct{})
	}
	return c
}

func (c *keyCache) shard(h auth.KeyHash) *keyShard {
	// The hash is SHA-256 output: any bits of it are uniformly spread.
	return &c.shards[binary.LittleEndian.Uint64(h[:8])%keyShards]
}

// get returns the cached entry for h, whether h is known to match no key,
// and the shard's generation for a later put.
func (c *keyCache) get(h auth.KeyHash) (e *keyEntry, unknown bool, gen uint64) {
	sh := c.shard(h)
	sh.mu.RLock()
	e, gen = sh.hits[h], sh.gen
	if e == nil {
		_, unknown = sh.miss[h]
	}
	sh.mu.RUnlock()
	return e, unknown, gen
}

// put caches e for h (nil e: h matches no key) if nothing was invalidated
// in h's shard since gen was read. It returns the entry to use: one cached
// meanwhile by another request wins, so all requests share one entry.
func (c *keyCache) put(h auth.KeyHash, e *keyEntry, gen uint64) *keyEntry {
	sh := c.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen {
		return e
	}
	if e == nil {
		if len(sh.miss) >= maxMissPerShard {
			clear(sh.miss) // crude, but bounded and cheap; misses are refilled on demand
		}
		sh.miss[h] = struct{}{}
		return nil
	}
	if prev := sh.hits[h]; prev != nil {
		return prev
	}
	sh.hits[h] = e
	return e
}

// invalidateUser drops every key of userID, after a change to the user
// (disabled, tiers) has been committed. It scans every shard: an admin
// action is rare, a request is not.
func (c *keyCache) invalidateUser(userID string) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.gen++ // a miss loading this user's state meanwhile must not be cached
		for h, e := range sh.hits {
			if e.userID == userID {
				e.used.dropped.Store(true) // see invalidate
				delete(sh.hits, h)
			}
		}
		sh.mu.Unlock()
	}
}

// invalidate drops what is known of h, after a change to its key has been
// committed, so the next request reads the key again.
func (c *keyCache) invalidate(h auth.KeyHash) {
	sh := c.shard(h)
	sh.mu.Lock()
	sh.gen++
	// A dropped entry with an unflushed use is still on the dirty list;
	// the next flush writes it, since the API now reads it from the store.
	if e := sh.hits[h]; e != nil {
		e.used.dropped.Store(true)
	}
	delete(sh.hits, h)
	delete(sh.miss, h)
	sh.mu.Unlock()
}

// lastUsed is the latest use of the key with hash h held in memory.
func (c *keyCache) lastUsed(h auth.KeyHash) time.Time {
	e, _, _ := c.get(h)
	if e == nil {
		return time.Time{}
	}
	return e.used.time()
}

// evict drops entries not looked up since before cutoff and with no
// unflushed use, so memory follows the keys in use, not every key seen.
func (c *keyCache) evict(cutoff int64) int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for h, e := range sh.hits {
			if e.seen.Load() < cutoff && e.used.clean() {
				delete(sh.hits, h)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// len is the number of keys held, for tests.
func (c *keyCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.hits)
		sh.mu.RUnlock()
	}
	return n
}
