package server

import (
	"encoding/binary"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/internal/offheap"
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
// A server holds one per active key, so it is kept small (96 bytes): id
// and userID share one allocation, which also holds the lineage when it
// is not id itself (see packIDs); tier is the tier table's own copy of the
// name; of the owner's tiers only the answer that matters is kept; the
// owner's flags sit in used's state word; and used keeps no copy of id
// (the key cache's markList reads it from the entry).
type keyEntry struct {
	id, userID, tier     string
	expiresAt, revokedAt int64 // unix nanoseconds; 0: never

	used useMark      // the latest admitted use, written under id; state also holds the key* flags
	seen atomic.Int64 // unix nanoseconds of the latest lookup, for eviction
}

// The key cache's markList holds entries: their uses are written under id.
func (e *keyEntry) mark() *useMark { return &e.used }
func (e *keyEntry) useID() string  { return e.id }

// Flags of a keyEntry, in used.state.
const (
	keyOwnerDisabled = useHolderBits << iota
	keyOwnerHasTier  // the owner holds tier; a change to the owner's tiers invalidates the entry
	keyRotated       // the lineage is not id: it follows userID in their allocation
)

// newKeyEntry makes the entry for k and its owner. tiers is the current
// tier table, whose names the entry shares.
func newKeyEntry(k storage.APIKey, owner storage.User, tiers map[string]*tier) *keyEntry {
	e := &keyEntry{expiresAt: unixNano(k.ExpiresAt), revokedAt: unixNano(k.RevokedAt)}
	var rotated bool
	e.id, e.userID, rotated = packIDs(k.ID, k.UserID, k.Lineage)
	if t := tiers[k.Tier]; t != nil {
		e.tier = t.name
	} else {
		e.tier = strings.Clone(k.Tier) // not a configured tier: keep none of the decoded record alive
	}
	var flags uint32
	if owner.Disabled {
		flags |= keyOwnerDisabled
	}
	if slices.Contains(owner.Tiers, k.Tier) {
		flags |= keyOwnerHasTier
	}
	if rotated {
		flags |= keyRotated
	}
	e.used.state.Store(flags)
	e.used.at.Store(unixNano(k.LastUsedAt))
	e.used.flushed.Store(e.used.at.Load())
	return e
}

func (e *keyEntry) ownerDisabled() bool { return e.used.state.Load()&keyOwnerDisabled != 0 }
func (e *keyEntry) ownerHasTier() bool  { return e.used.state.Load()&keyOwnerHasTier != 0 }

// lineage is the first key id of e's rotation chain, which its usage and
// limits are counted under: id itself unless the key was rotated.
func (e *keyEntry) lineage() string {
	if e.used.state.Load()&keyRotated == 0 {
		return e.id
	}
	return lineageAfter(e.id, e.userID)
}

// packIDs copies id and userID into one allocation and returns them as
// substrings of it. When lineage is not id it follows them, after its
// length as a uvarint, and rotated is true; lineageAfter reads it back.
func packIDs(id, userID, lineage string) (string, string, bool) {
	rotated := lineage != id
	var n [binary.MaxVarintLen64]byte
	size, tail := n[:0], 0 // the lineage's length, stored before it, and both's
	if rotated {
		size = binary.AppendUvarint(size, uint64(len(lineage)))
		tail = len(size) + len(lineage)
	}
	var b strings.Builder
	b.Grow(len(id) + len(userID) + tail)
	b.WriteString(id)
	b.WriteString(userID)
	if rotated {
		b.Write(size)
		b.WriteString(lineage)
	}
	all := b.String()
	i, u := len(id), len(id)+len(userID)
	return all[:i], all[i:u], rotated
}

// lineageAfter returns the lineage that packIDs, returning id and userID
// with rotated true, stored after them.
func lineageAfter(id, userID string) string {
	// id starts the allocation (all[:i] keeps its start, even when empty),
	// and the uvarint is followed by as many bytes as it says.
	at := unsafe.Add(unsafe.Pointer(unsafe.StringData(id)), len(id)+len(userID))
	var n uint64
	for shift := 0; ; shift += 7 {
		c := *(*byte)(at)
		at = unsafe.Add(at, 1)
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	return unsafe.String((*byte)(at), int(n))
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
	dirty  markList[*keyEntry] // last uses not yet flushed
}

type keyShard struct {
	mu sync.RWMutex // guards everything below
	// gen counts invalidations. A lookup that missed reads gen before going
	// to the store and caches what it found only if gen has not moved, so a
	// revocation committed meanwhile is never hidden by a stale entry.
	gen  uint64
	hits keyIndex
	miss map[auth.KeyHash]struct{}
}

func newKeyCache() *keyCache {
	c := &keyCache{}
	mem := new(offheap.Arena)
	for i := range c.shards {
		c.shards[i].hits.mem = mem
		c.shards[i].hits.cells = offheap.NewTable(mem)
		c.shards[i].miss = make(map[auth.KeyHash]struct{})
	}
	// mem is apart from c, so it can release its blocks once c is gone.
	runtime.AddCleanup(c, (*offheap.Arena).ReleaseAll, mem)
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
	e, gen = sh.hits.get(&h), sh.gen
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
	if prev := sh.hits.get(&h); prev != nil {
		return prev
	}
	sh.hits.add(&h, e)
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
		sh.dropWhere(func(e *keyEntry) bool {
			if e.userID != userID {
				return false
			}
			e.used.drop() // see invalidate
			return true
		})
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
	if i, ok := sh.hits.find(&h); ok {
		sh.hits.entryAt(int(i)).used.drop()
		sh.hits.removeAt(i)
		sh.hits.compact()
	}
	delete(sh.miss, h)
	sh.mu.Unlock()
}

// dropWhere drops the entries for which drop is true, and returns how
// many. It requires sh.mu held for writing.
func (sh *keyShard) dropWhere(drop func(*keyEntry) bool) int {
	n := 0
	x := &sh.hits
	for i := 0; i < len(x.cells.Cells()); {
		e := x.entryAt(i)
		if e == nil || !drop(e) {
			i++
			continue
		}
		x.removeAt(uint32(i)) // i is looked at again: a later cell may move into it
		n++
	}
	if n > 0 {
		x.compact()
	}
	return n
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
// between, if not nil, is called after each shard with no lock held (the
// flusher paces itself there).
func (c *keyCache) evict(cutoff int64, between func()) int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += sh.dropWhere(func(e *keyEntry) bool { return e.seen.Load() < cutoff && e.used.clean() })
		sh.mu.Unlock()
		if between != nil {
			between()
		}
	}
	return n
}

// len is the number of keys held, for tests.
func (c *keyCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += sh.hits.n
		sh.mu.RUnlock()
	}
	return n
}
