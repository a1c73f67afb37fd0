package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/storage"
)

// lastUse is a last-used time written behind: requests set it in memory
// and the flusher writes it, so using a key or session costs no disk write.
type lastUse struct {
	id      string       // the key or session id
	at      atomic.Int64 // unix nanoseconds of the latest use
	flushed atomic.Int64 // at, as last handed to the flusher
	queued  atomic.Bool  // on a dirtyList, waiting for the flusher
}

// clean reports whether the store already has the latest use.
func (u *lastUse) clean() bool { return !u.queued.Load() && u.at.Load() == u.flushed.Load() }

// time is the latest use, or the zero time.
func (u *lastUse) time() time.Time {
	if at := u.at.Load(); at != 0 {
		return time.Unix(0, at).UTC()
	}
	return time.Time{}
}

// dirtyList holds the lastUses changed since the flusher last drained it.
type dirtyList struct {
	mu    sync.Mutex // guards items
	items []*lastUse
}

// touch records a use at now. Only the first use after a drain takes the
// list's lock.
func (d *dirtyList) touch(u *lastUse, now int64) {
	u.at.Store(now)
	if !u.queued.Load() && u.queued.CompareAndSwap(false, true) {
		d.mu.Lock()
		d.items = append(d.items, u)
		d.mu.Unlock()
	}
}

// drain returns the uses changed since the previous drain.
func (d *dirtyList) drain() []storage.LastUsed {
	d.mu.Lock()
	items := d.items
	d.items = nil
	d.mu.Unlock()
	out := make([]storage.LastUsed, 0, len(items))
	for _, u := range items {
		// Clear queued before reading, so a use racing with this drain
		// queues u again rather than being lost.
		u.queued.Store(false)
		at := u.at.Load()
		u.flushed.Store(at)
		out = append(out, storage.LastUsed{ID: u.id, At: time.Unix(0, at).UTC()})
	}
	return out
}
