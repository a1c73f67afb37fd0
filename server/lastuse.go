package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/storage"
)

// lastUseGranularity is how far a last-used time must move before a
// periodic flush writes it. The API shows the time held in memory, so the
// stored copy matters only after a restart, and writing it on every flush
// cost more than the counters did: a busy server's flush would rewrite the
// time of every key used in the last second. A crash may therefore lose up
// to this much of a last-used time; a clean stop loses none (the final
// flush writes every pending time).
const lastUseGranularity = time.Minute

// useMark is a last-used time written behind: requests set it in memory
// and the flusher writes it, so using a key or session costs no disk
// write. Its holder knows the id it is written under (see useHolder).
type useMark struct {
	at      atomic.Int64 // unix nanoseconds of the latest use
	flushed atomic.Int64 // at, as last handed to the flusher
	// state holds useQueued and useDropped, and above them flags of the
	// holder's own, fixed before the mark is shared (see keyEntry): the
	// holder's fields would take a word of their own beside this one.
	state atomic.Uint32
}

// lastUse is a useMark with its id: a session's. A key's entry holds a
// bare useMark, since its id is already beside it.
type lastUse struct {
	id string // the session id
	useMark
}

// useHolder is what a markList holds: something with a useMark and the id
// to write it under.
type useHolder interface {
	comparable
	mark() *useMark
	useID() string
}

func (u *lastUse) mark() *useMark { return &u.useMark }
func (u *lastUse) useID() string  { return u.id }

// The bits of useMark.state that useMark uses.
const (
	// useQueued: on a markList, waiting for the flusher.
	useQueued uint32 = 1 << iota
	// useDropped is set when the key's cache entry is dropped (revoked,
	// rotated, owner changed): nothing in memory shows the time any more,
	// so the next flush writes it whatever the granularity.
	useDropped
	// useHolderBits is the lowest bit a holder may use for its own flags.
	useHolderBits
)

func (u *useMark) queued() bool  { return u.state.Load()&useQueued != 0 }
func (u *useMark) dropped() bool { return u.state.Load()&useDropped != 0 }

// drop marks u dropped.
func (u *useMark) drop() { u.state.Or(useDropped) }

// clean reports whether the store already has the latest use.
func (u *useMark) clean() bool { return !u.queued() && u.at.Load() == u.flushed.Load() }

// time is the latest use, or the zero time.
func (u *useMark) time() time.Time {
	if at := u.at.Load(); at != 0 {
		return time.Unix(0, at).UTC()
	}
	return time.Time{}
}

// due reports whether a periodic flush at now writes u: its time moved by
// a granularity since it was last written, or it has not moved for one
// (so a key used twice and then left idle is written, and can be evicted,
// within about two granularities).
func (u *useMark) due(now int64) bool {
	at, flushed := u.at.Load(), u.flushed.Load()
	g := int64(lastUseGranularity)
	return at-flushed >= g || now-at >= g || u.dropped()
}

// markList holds the holders whose useMark changed since it was last
// written.
type markList[T useHolder] struct {
	mu    sync.Mutex // guards items
	items []T
}

// dirtyList is the sessions' markList.
type dirtyList = markList[*lastUse]

// touch records a use of h at now. Only the first use after h was written
// takes the list's lock.
func (d *markList[T]) touch(h T, now int64) {
	u := h.mark()
	u.at.Store(now)
	if !u.queued() && u.state.Or(useQueued)&useQueued == 0 {
		d.mu.Lock()
		d.items = append(d.items, h)
		d.mu.Unlock()
	}
}

// drainDue appends to dst, and returns, the uses a flush at now (unix
// nanoseconds) writes: every changed use if all, else only those due. The
// rest stay on the list, still queued, so uses meanwhile take no lock.
// It calls tick after each use, with no lock held.
func (d *markList[T]) drainDue(dst []storage.LastUsed, now int64, all bool, tick func()) []storage.LastUsed {
	d.mu.Lock()
	items := d.items
	d.items = nil
	d.mu.Unlock()
	kept := items[:0] // filtered in place: kept never passes the loop
	for _, h := range items {
		tick()
		u := h.mark()
		if !all && !u.due(now) {
			kept = append(kept, h)
			continue
		}
		// Clear queued before reading, so a use racing with this drain
		// queues h again rather than being lost.
		u.state.And(^useQueued)
		at := u.at.Load()
		if at == u.flushed.Load() {
			continue // already written
		}
		u.flushed.Store(at)
		dst = append(dst, storage.LastUsed{ID: h.useID(), At: time.Unix(0, at).UTC()})
	}
	clear(items[len(kept):]) // let written holders go, should they leave the cache
	if len(kept) > 0 {
		d.mu.Lock()
		d.items = append(kept, d.items...)
		d.mu.Unlock()
	}
	return dst
}
