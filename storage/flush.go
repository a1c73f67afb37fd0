package storage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"runtime"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// yieldEvery is how many entries Flush writes between yields of the
// processor. A batch of 100000 counters held the only core of a small
// server for a quarter of a second; yielding every few hundred entries
// lets requests run meanwhile. Splitting the batch into transactions did
// the same but cost two fsyncs a part, which more than doubled a flush.
const yieldEvery = 256

// Flush writes a batch of write-behind counters in one write transaction,
// yielding the processor every few hundred entries. Counts are absolute
// and only grow within a day, so each stored count becomes max(stored,
// new): replaying a batch, or flushing out of order, is harmless. A key's
// or session's LastUsedAt is set only if the new time is later than the
// stored one; an id that no longer exists is skipped silently. An empty
// batch starts no transaction. It returns ErrInvalid, and writes nothing,
// if any lineage is empty or contains "/". Safe for concurrent use.
func (db *DB) Flush(ctx context.Context, b Batch) error {
	if b.empty() {
		return nil
	}
	for _, u := range b.Usage {
		if err := validID("lineage", u.Lineage); err != nil {
			return err
		}
	}
	// Sorting and key building happen before the transaction, so they hold
	// no lock other writers wait on.
	usage, keys := sortedUsage(b.Usage), sortedLastUsed(b.Keys)
	runtime.Gosched()
	return db.update(ctx, func(tx *bolt.Tx) error {
		// bbolt keeps the value slices it is given until the commit.
		vals := make([]byte, 0, 8*(len(usage)+len(keys)))
		var y yielder
		vals, err := flushUsage(tx.Bucket(bucketUsage), usage, vals, &y)
		if err != nil {
			return err
		}
		if _, err := flushKeyLastUsed(tx, keys, vals, &y); err != nil {
			return err
		}
		sessionLastUsed := func(r *sessionRecord) *time.Time { return &r.LastUsedAt }
		return flushLastUsed(tx.Bucket(bucketSessions), b.Sessions, sessionLastUsed, &y)
	})
}

// yielder yields the processor every yieldEvery calls of tick.
type yielder struct{ n int }

func (y *yielder) tick() {
	if y.n++; y.n%yieldEvery == 0 {
		runtime.Gosched()
	}
}

// entry is one value Flush writes: a count, or a last use in unix
// nanoseconds, under its bucket key.
type entry struct {
	key  []byte
	word uint64 // the 8 key bytes after the prefix all keys share, for sorting
	n    uint64
}

// sortedUsage returns the positive counts of usage with their keys, in key
// order: bbolt inserts into a page's sorted slice, so keys put in random
// order cost a copy of the page's entries each, and a day's first flush of
// many keys went quadratic. The keys share one allocation, and each day is
// formatted once.
func sortedUsage(usage []Usage) []entry {
	size := 0
	for _, u := range usage {
		size += len(dayLayout) + 1 + len(u.Lineage)
	}
	buf := make([]byte, 0, size)
	out := make([]entry, 0, len(usage))
	var day time.Time
	var prefix []byte
	for _, u := range usage {
		if u.Count <= 0 {
			continue
		}
		if d := u.Day.UTC().Truncate(24 * time.Hour); prefix == nil || !d.Equal(day) {
			day, prefix = d, append(d.AppendFormat(nil, dayLayout), '/')
		}
		start := len(buf)
		buf = append(append(buf, prefix...), u.Lineage...)
		out = append(out, entry{key: buf[start:len(buf):len(buf)], n: uint64(u.Count)})
	}
	sortEntries(out)
	return out
}

// sortedLastUsed returns entries in id order (see sortedUsage), their ids
// in one allocation.
func sortedLastUsed(entries []LastUsed) []entry {
	size := 0
	for _, lu := range entries {
		size += len(lu.ID)
	}
	buf := make([]byte, 0, size)
	out := make([]entry, len(entries))
	for i, lu := range entries {
		start := len(buf)
		buf = append(buf, lu.ID...)
		out[i] = entry{key: buf[start:len(buf):len(buf)], n: uint64(lu.At.UnixNano())}
	}
	sortEntries(out)
	return out
}

// sortEntries sorts es by key. Keys of one flush share a long prefix (the
// day, "key_"), and comparing the 8 bytes after it as a word first sorted
// 100000 keys several times faster than bytes.Compare alone.
func sortEntries(es []entry) {
	if len(es) == 0 {
		return
	}
	p := len(es[0].key)
	for _, e := range es[1:] {
		for p > 0 && !bytes.HasPrefix(e.key, es[0].key[:p]) {
			p--
		}
	}
	for i := range es {
		var w [8]byte
		copy(w[:], es[i].key[p:]) // zero-padded: never contradicts byte order
		es[i].word = binary.BigEndian.Uint64(w[:])
	}
	slices.SortFunc(es, func(a, b entry) int {
		if c := cmp.Compare(a.word, b.word); c != 0 {
			return c
		}
		return bytes.Compare(a.key, b.key)
	})
}

// flushUsage stores max(stored, new) for each count, appending the values
// it puts to vals.
func flushUsage(b *bolt.Bucket, usage []entry, vals []byte, y *yielder) ([]byte, error) {
	c := b.Cursor()
	for _, u := range usage {
		y.tick()
		if stored, _ := decodeUint(get(c, u.key)); u.n <= stored { // a missing or malformed count is 0
			continue
		}
		var v []byte
		vals, v = appendUint(vals, u.n)
		if err := b.Put(u.key, v); err != nil {
			return vals, err
		}
	}
	return vals, nil
}

// flushKeyLastUsed stores the last use of each existing key as 8 bytes in
// its own bucket, appending the values it puts to vals. Rewriting each
// key's JSON record instead cost most of a flush: a busy server's flush
// touches every key used in the last second.
func flushKeyLastUsed(tx *bolt.Tx, entries []entry, vals []byte, y *yielder) ([]byte, error) {
	b := tx.Bucket(bucketKeyLastUsed)
	c, keys := b.Cursor(), tx.Bucket(bucketKeys).Cursor()
	for _, e := range entries {
		y.tick()
		if stored, _ := decodeUint(get(c, e.key)); e.n <= stored {
			continue
		}
		if get(keys, e.key) == nil {
			continue // revoked and gone, or never there
		}
		var v []byte
		vals, v = appendUint(vals, e.n)
		if err := b.Put(e.key, v); err != nil {
			return vals, err
		}
	}
	return vals, nil
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
func flushLastUsed[R any](b *bolt.Bucket, entries []LastUsed, lastUsedAt func(*R) *time.Time, y *yielder) error {
	for _, lu := range entries {
		y.tick()
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
