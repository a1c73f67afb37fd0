package storage

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
)

// The read cache keeps what every authenticated request reads (the user,
// and for a key listing the user's keys) decoded in memory, so that a
// request need not open two bbolt read transactions. It serves a value
// only if no write has committed since it was read, so it is exactly as
// fresh as reading the file:
//
//   - every commit goes through db.update, which marks the commit as in
//     progress (writing) before bbolt commits and, after, bumps the
//     generation (gen) and then ends the mark;
//   - a read loads writing, then gen. While a commit is in progress it
//     goes to bbolt and caches nothing. Otherwise it uses an entry only if
//     that entry was read at this same generation, and on a miss it reads
//     in a new transaction and stores the result with the generation it
//     loaded before opening it.
//
// Why nothing stale is served: take a commit C that committed before a read
// R loaded writing. If C had not finished then, R saw writing != 0 and went
// to bbolt. Otherwise C had bumped gen, so R loads a gen counting C; an
// entry read from a snapshot without C was stored with a gen loaded before
// C's bump, which is smaller, and so misses. A write that commits while R
// runs may or may not be seen, as with a bbolt read.
//
// Checking bbolt's own transaction id instead would cost a Begin and a
// Rollback per read (two waits on bbolt's meta mutex, three allocations):
// about half of what reading the user costs.
//
// Any commit, to any bucket, empties the cache; the per-second flush of
// last-used times and usage therefore does too. Every write to the file
// must go through db.update (TestWritesGoThroughUpdate checks the source).

// Bounds of the cache; see readCache.
const (
	cacheShards      = 16   // a power of two, so that % is a mask
	maxUsersPerShard = 256  // 4096 users in all
	maxKeysPerShard  = 1024 // 16384 keys in all, a few MB at most
)

// readCache caches UserByID and APIKeysByUser by user id. The zero value
// is not usable; call newReadCache.
type readCache struct {
	writing atomic.Int64  // commits in progress, plus one for good once closed; nonzero bypasses the cache
	gen     atomic.Uint64 // commits finished
	seed    maphash.Seed
	shards  [cacheShards]cacheShard
}

// cacheShard holds the entries of the user ids that hash to it. Sharding
// keeps requests for different users off one lock.
type cacheShard struct {
	mu sync.RWMutex
	// Guarded by mu. Every entry was read at generation gen; entries of an
	// older generation are dropped as soon as a newer one is stored.
	// nkeys is the number of keys in all the lists of keys.
	gen   uint64
	users map[string]User
	keys  map[string][]APIKey
	nkeys int
}

func newReadCache() *readCache {
	c := &readCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].users = make(map[string]User)
		c.shards[i].keys = make(map[string][]APIKey)
	}
	return c
}

// beginCommit marks a commit as in progress. Call it before bbolt
// commits, and endCommit after, whatever the outcome.
func (c *readCache) beginCommit() { c.writing.Add(1) }

// endCommit makes every entry read before it stale. gen moves before the
// mark ends: a reader that sees the mark gone sees the new gen.
func (c *readCache) endCommit() {
	c.gen.Add(1)
	c.writing.Add(-1)
}

// disable turns the cache off for good (the database is closing), so that
// reads go to bbolt and fail as a closed database should.
func (c *readCache) disable() { c.writing.Add(1) }

// generation returns the generation a read starting now may use, or false
// if a commit is in progress and the read must neither use nor fill the
// cache. The order of the two loads is what makes the cache safe.
func (c *readCache) generation() (uint64, bool) {
	if c.writing.Load() != 0 {
		return 0, false
	}
	return c.gen.Load(), true
}

func (c *readCache) shard(userID string) *cacheShard {
	return &c.shards[maphash.String(c.seed, userID)%cacheShards]
}

// user returns a copy of the cached user id read at generation gen.
func (c *readCache) user(gen uint64, id string) (User, bool) {
	sh := c.shard(id)
	sh.mu.RLock()
	u, ok := sh.users[id]
	ok = ok && sh.gen == gen
	sh.mu.RUnlock()
	if !ok {
		return User{}, false
	}
	return copyUser(u), true
}

// putUser caches a copy of u, read at generation gen.
func (c *readCache) putUser(gen uint64, u User) {
	sh := c.shard(u.ID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.advanceLocked(gen) {
		return
	}
	if _, ok := sh.users[u.ID]; !ok && len(sh.users) >= maxUsersPerShard {
		for id := range sh.users { // map order is random: a random victim
			delete(sh.users, id)
			break
		}
	}
	sh.users[u.ID] = copyUser(u)
}

// keysOf returns a copy of the cached keys of userID read at generation gen.
func (c *readCache) keysOf(gen uint64, userID string) ([]APIKey, bool) {
	sh := c.shard(userID)
	sh.mu.RLock()
	keys, ok := sh.keys[userID]
	ok = ok && sh.gen == gen
	var out []APIKey
	if ok {
		out = slices.Clone(keys) // inside the lock: keys may be dropped after
	}
	sh.mu.RUnlock()
	return out, ok
}

// putKeys caches a copy of keys, the keys of userID read at generation
// gen. keys must not be nil. A list too long for a shard is not cached.
func (c *readCache) putKeys(gen uint64, userID string, keys []APIKey) {
	if len(keys) > maxKeysPerShard {
		return
	}
	sh := c.shard(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.advanceLocked(gen) {
		return
	}
	sh.nkeys -= len(sh.keys[userID])
	delete(sh.keys, userID)
	for id, victim := range sh.keys { // random victims, until keys fit
		if sh.nkeys+len(keys) <= maxKeysPerShard {
			break
		}
		sh.nkeys -= len(victim)
		delete(sh.keys, id)
	}
	sh.keys[userID] = slices.Clone(keys)
	sh.nkeys += len(keys)
}

// advanceLocked prepares the shard to take an entry read at gen: it drops
// every entry if gen is newer than theirs. It reports false if gen is
// older than the shard's, when the entry is already stale.
func (sh *cacheShard) advanceLocked(gen uint64) bool {
	switch {
	case gen < sh.gen:
		return false
	case gen > sh.gen:
		clear(sh.users)
		clear(sh.keys)
		sh.nkeys = 0
		sh.gen = gen
	}
	return true
}

// copyUser returns u with its slices copied, so that neither the cache
// nor a caller can change the other's.
func copyUser(u User) User {
	u.PasswordHash = slices.Clone(u.PasswordHash)
	u.Tiers = slices.Clone(u.Tiers)
	return u
}
