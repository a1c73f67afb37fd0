package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/storage"
)

// liveSession is what an access-token check needs of a session.
type liveSession struct {
	userID    string
	expiresAt atomic.Int64 // unix nanoseconds; moved forward by each refresh
	used      lastUse
}

// sessionSet holds every live session in memory, so checking an access
// token's session costs no disk read. It is loaded whole at start-up and
// kept in step by the handlers: a session is added after its creation is
// committed and removed after its revocation is committed, so the set is
// never more permissive than the store.
type sessionSet struct {
	m     sync.Map     // session id → *liveSession
	n     atomic.Int64 // entries in m, kept by add, remove and prune
	dirty dirtyList
}

func newSessionSet(live []storage.Session) *sessionSet {
	set := &sessionSet{}
	for _, s := range live {
		set.add(s)
	}
	return set
}

func (set *sessionSet) add(s storage.Session) {
	ls := &liveSession{userID: s.UserID}
	ls.expiresAt.Store(s.ExpiresAt.UnixNano())
	ls.used.id = s.ID
	ls.used.at.Store(unixNano(s.LastUsedAt))
	ls.used.flushed.Store(ls.used.at.Load())
	if _, loaded := set.m.Swap(s.ID, ls); !loaded {
		set.n.Add(1)
	}
}

// len is the number of sessions held.
func (set *sessionSet) len() int64 { return set.n.Load() }

// check reports whether session id is live at now and belongs to userID,
// and records the use.
func (set *sessionSet) check(id, userID string, now time.Time) bool {
	v, ok := set.m.Load(id)
	if !ok {
		return false
	}
	ls := v.(*liveSession)
	if ls.userID != userID || now.UnixNano() >= ls.expiresAt.Load() {
		return false
	}
	set.dirty.touch(&ls.used, now.UnixNano())
	return true
}

// lastUsed is the latest use of session id held in memory, or zero.
func (set *sessionSet) lastUsed(id string) time.Time {
	if v, ok := set.m.Load(id); ok {
		return v.(*liveSession).used.time()
	}
	return time.Time{}
}

// extend moves a live session's expiry after a committed refresh.
func (set *sessionSet) extend(id string, expiresAt time.Time) {
	if v, ok := set.m.Load(id); ok {
		v.(*liveSession).expiresAt.Store(expiresAt.UnixNano())
	}
}

// remove forgets sessions after their revocation has been committed.
func (set *sessionSet) remove(ids ...string) {
	for _, id := range ids {
		if _, ok := set.m.LoadAndDelete(id); ok {
			set.n.Add(-1)
		}
	}
}

// prune forgets sessions expired before now. An expired session is
// refused anyway; this only gives the memory back.
func (set *sessionSet) prune(now time.Time) {
	set.m.Range(func(k, v any) bool {
		if ls := v.(*liveSession); now.UnixNano() >= ls.expiresAt.Load() && ls.used.clean() && set.m.CompareAndDelete(k, v) {
			set.n.Add(-1)
		}
		return true
	})
}
