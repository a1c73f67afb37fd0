package storage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keygate/keygate/internal/offheap"
)

// Flush writes a batch of write-behind counters in one write transaction.
// Counts are absolute and only grow within a day, so each stored count
// becomes max(stored, new): replaying a batch, or flushing out of order, is
// harmless. A key's or session's LastUsedAt is set only if the new time is
// later than the stored one; an id that no longer exists is skipped
// silently. An empty batch starts no transaction. It returns ErrInvalid,
// and writes nothing, if any lineage is empty or contains "/", or a day is
// outside the years 1 to 9999. Safe for concurrent use.
func (db *DB) Flush(ctx context.Context, b Batch) error {
	if b.empty() {
		return nil
	}
	tick := b.pace()
	var names, ids uint64 // summed wide: a 32-bit int would wrap before the bound
	for _, u := range b.Usage {
		tick()
		if err := validID("lineage", u.Lineage); err != nil {
			return err
		}
		if err := validDay(u.Day); err != nil {
			return err
		}
		names += uint64(len(u.Lineage))
	}
	for _, lu := range b.Keys {
		ids += uint64(len(lu.ID))
	}
	if names > maxBatchNames || uint64(len(b.Usage)) > maxBatchNames || ids > maxBatchNames {
		return fmt.Errorf("%w: a batch of %d counts and %d last uses is too large", ErrInvalid, len(b.Usage), len(b.Keys))
	}
	// Held until the transaction is over: bbolt keeps the values it was
	// given until the commit.
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	s := db.flushScratch()
	// Sorting and key building happen before the transaction, so they hold
	// no lock other writers wait on.
	usage, keys := s.groupUsage(b.Usage, tick), s.sortedLastUsed(b.Keys)
	defer s.done() // after the transaction: bbolt holds the values until it ends
	return db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		// bbolt's default FillPercent (half-full pages on a split) stays:
		// pages filled to the brim halved the pages a flush writes when
		// every blob already existed, but blobs and last-used times
		// arrive at random through the day, and each insert into a full
		// page then split it into a full one and a near-empty one, which
		// no later Put merges: a day's blobs ended up in 70% more pages
		// (TestFlush_PagesStayFull).
		if s.vals, err = s.flushUsage(tx.Bucket(bucketUsage), usage, s.vals[:0], tick); err != nil {
			return err
		}
		// The times follow the blobs in vals, which has room for them.
		s.vals = s.room(s.vals, 8*len(keys.entries))
		if s.vals, err = flushKeyLastUsed(tx, keys, s.vals, tick); err != nil {
			return err
		}
		sessionLastUsed := func(r *sessionRecord) *time.Time { return &r.LastUsedAt }
		return flushLastUsed(tx.Bucket(bucketSessions), b.Sessions, sessionLastUsed, tick)
	})
}

// flushScratch returns db's flush scratch, giving it an Arena the first
// time; the Arena's blocks are given back once db is unreachable. It
// requires db.flushMu held.
func (db *DB) flushScratch() *flushScratch {
	s := &db.scratch
	if s.mem == nil {
		s.mem = new(offheap.Arena)
		runtime.AddCleanup(db, (*offheap.Arena).ReleaseAll, s.mem)
	}
	return s
}

// entry is one last use Flush writes, in unix nanoseconds. It holds no
// pointer, so that it can live off the heap (see scratch.go): its key is
// names[at:at+size] in the names of its batch.
type entry struct {
	word     uint64 // the 8 key bytes after the prefix all keys share, for sorting
	n        uint64
	at, size uint32
}

// key returns e's key in names, the names of e's batch.
func (e *entry) key(names []byte) []byte {
	return names[e.at : e.at+e.size : e.at+e.size]
}

// keyGroups is a batch of last uses sorted by sortedLastUsed: its entries
// and their keys.
type keyGroups struct {
	entries []entry
	names   []byte
}

// sortedLastUsed returns lus in id order, their ids in one array: bbolt
// inserts into a page's sorted slice, so keys put in random order cost a
// copy of the page's entries each. The result lives in s until the next
// call. The ids of lus must total at most maxBatchNames bytes.
func (s *flushScratch) sortedLastUsed(lus []LastUsed) keyGroups {
	size := 0
	for _, lu := range lus {
		size += len(lu.ID)
	}
	names := s.keyNames.take(s.mem, size)
	out := s.keys.take(s.mem, len(lus))
	at := 0
	for i, lu := range lus {
		copy(names[at:], lu.ID)
		out[i] = entry{at: uint32(at), size: uint32(len(lu.ID)), n: uint64(lu.At.UnixNano())}
		at += len(lu.ID)
	}
	s.sortEntries(out, names)
	return keyGroups{entries: out, names: names}
}

// sortEntries sorts es, whose keys are in names, by key. Keys of one
// flush share a long prefix (the day, "key_"), and comparing the 8 bytes
// after it as a word first sorted 100000 keys several times faster than
// bytes.Compare alone. A large batch is first spread by the word's top 16
// bits (a counting sort), which leaves a few dozen keys a bucket to sort:
// a comparison sort of 100000 keys was still a sixth of a flush.
func (s *flushScratch) sortEntries(es []entry, names []byte) {
	if len(es) == 0 {
		return
	}
	first := es[0].key(names)
	p := len(first)
	for _, e := range es[1:] {
		for p > 0 && !bytes.HasPrefix(e.key(names), first[:p]) {
			p--
		}
	}
	for i := range es {
		var w [8]byte
		copy(w[:], es[i].key(names)[p:]) // zero-padded: never contradicts byte order
		es[i].word = binary.BigEndian.Uint64(w[:])
	}
	if len(es) < 4096 {
		slices.SortFunc(es, func(a, b entry) int { return compareEntry(a, b, names) })
		return
	}
	starts := s.keyStarts.take(s.mem, 1<<16+1)
	clear(starts)
	for _, e := range es {
		starts[e.word>>48+1]++
	}
	for i := 1; i < len(starts); i++ {
		starts[i] += starts[i-1]
	}
	spread := s.spread.take(s.mem, len(es))
	for _, e := range es { // afterwards starts[b] is where bucket b ends
		spread[starts[e.word>>48]] = e
		starts[e.word>>48]++
	}
	copy(es, spread)
	start := 0
	for _, end := range starts[:1<<16] {
		sortBucket(es[start:end], names)
		start = end
	}
}

// sortBucket sorts the few entries of one bucket, whose keys are in
// names, by an insertion sort, or a comparison sort if there are many.
func sortBucket(es []entry, names []byte) {
	if len(es) > 64 {
		slices.SortFunc(es, func(a, b entry) int { return compareEntry(a, b, names) })
		return
	}
	for i := 1; i < len(es); i++ {
		e, j := es[i], i
		for ; j > 0 && compareEntry(es[j-1], e, names) > 0; j-- {
			es[j] = es[j-1]
		}
		es[j] = e
	}
}

// compareEntry orders a and b, whose keys are in names, by key.
func compareEntry(a, b entry, names []byte) int {
	if c := cmp.Compare(a.word, b.word); c != 0 {
		return c
	}
	return bytes.Compare(a.key(names), b.key(names))
}

// flushKeyLastUsed stores the last use of each existing key as 8 bytes in
// its own bucket, appending the values it puts to vals. Rewriting each
// key's JSON record instead cost most of a flush: a busy server's flush
// touches every key used in the last second.
//
// It reads first and puts after, so that one cursor walks forward through
// the sorted ids (a cursor is only valid while nothing changes the
// bucket): stepping to the next id is cheaper than seeking it from the
// root, and a flush once a minute holds the time of every busy key. A key
// with a stored time exists: keys are never deleted, only revoked, so
// only a key's first time costs a look in the keys bucket, whose million
// records are mostly cold pages.
func flushKeyLastUsed(tx *bolt.Tx, g keyGroups, vals []byte, tick func()) ([]byte, error) {
	b := tx.Bucket(bucketKeyLastUsed)
	stored, keys := walker{c: b.Cursor()}, walker{c: tx.Bucket(bucketKeys).Cursor()}
	names := g.names
	due := g.entries[:0] // the entries are Flush's own: filtered in place
	for _, e := range g.entries {
		tick()
		k := e.key(names)
		if last := len(due) - 1; last >= 0 && bytes.Equal(due[last].key(names), k) {
			due[last].n = max(due[last].n, e.n) // an id twice in a batch: the later time
			continue
		}
		if v := stored.get(k); v != nil {
			if n, _ := decodeUint(v); e.n <= n {
				continue
			}
		} else if keys.get(k) == nil {
			continue // never stored
		}
		due = append(due, e)
	}
	for _, e := range due {
		tick()
		var v []byte
		vals, v = appendUint(vals, e.n)
		if err := b.Put(e.key(names), v); err != nil { // bbolt copies keys
			return vals, err
		}
	}
	return vals, nil
}

// walker reads a bucket through one cursor at keys asked for in
// ascending order: it steps forward a few times before it seeks, as the
// next key asked for is often the next one stored.
type walker struct {
	c       *bolt.Cursor
	k, v    []byte
	started bool
}

// walkSteps is how many keys get steps over before it seeks instead.
const walkSteps = 4

// get returns the value stored under key, or nil. key must not sort
// before the key of the previous call, and nothing may change the bucket
// between calls.
func (w *walker) get(key []byte) []byte {
	for i := 0; w.started && w.k != nil && i < walkSteps && bytes.Compare(w.k, key) < 0; i++ {
		w.k, w.v = w.c.Next()
	}
	if !w.started || (w.k != nil && bytes.Compare(w.k, key) < 0) {
		w.k, w.v = w.c.Seek(key)
		w.started = true
	}
	if bytes.Equal(w.k, key) {
		return w.v
	}
	return nil
}

// get is Bucket.Get through c, whose stack is reused: Get makes a new
// cursor each call, and growing its stack was a fifth of a flush. Seek
// starts from the root, so a Put in between does not matter.
func get(c *bolt.Cursor, key []byte) []byte {
	if k, v := c.Seek(key); bytes.Equal(k, key) {
		return v
	}
	return nil
}

// appendUint appends n's 8-byte encoding to buf and returns both the longer
// buf and the encoding. Values share buf's array, one allocation a flush;
// should buf grow, earlier values keep the old array.
func appendUint(buf []byte, n uint64) ([]byte, []byte) {
	start := len(buf)
	buf = binary.BigEndian.AppendUint64(buf, n)
	return buf, buf[start:len(buf):len(buf)]
}

// flushLastUsed moves the last-use time of each existing record in b forward.
// lastUsedAt returns a pointer to the record's LastUsedAt field.
func flushLastUsed[R any](b *bolt.Bucket, entries []LastUsed, lastUsedAt func(*R) *time.Time, tick func()) error {
	for _, lu := range entries {
		tick()
		var r R
		ok, err := getJSON(b, []byte(lu.ID), &r)
		if err != nil {
			return err
		}
		at := lastUsedAt(&r)
		if !ok || !lu.At.After(*at) {
			continue
		}
		*at = lu.At.UTC()
		if err := putJSON(b, []byte(lu.ID), r); err != nil {
			return err
		}
	}
	return nil
}
