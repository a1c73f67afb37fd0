package storage

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// dayLayout formats the day part of usage keys; its fixed width keeps keys of
// one lineage in chronological order.
const dayLayout = "2006-01-02"

// Usage is the number of requests admitted for a lineage on one UTC day.
type Usage struct {
	Lineage string    // lineage (first key id of a rotation chain); non-empty, no "/"
	Day     time.Time // a UTC calendar day; the time of day is ignored. Returned as midnight UTC
	Count   int64     // requests admitted that day (absolute, not a delta)
}

// LastUsed records when an API key or a session was last used.
type LastUsed struct {
	ID string    // a key id (Batch.Keys) or a session id (Batch.Sessions)
	At time.Time // the last use; stored in UTC
}

// Batch is one write-behind flush: the counters and last-use times the
// caller kept in memory since its previous flush. The zero value is an empty
// batch, which Flush accepts without starting a transaction.
type Batch struct {
	Usage    []Usage    // absolute daily counts per lineage
	Keys     []LastUsed // last use of API keys (APIKey.LastUsedAt)
	Sessions []LastUsed // last use of sessions (Session.LastUsedAt)
}

// empty reports whether b holds nothing to write.
func (b Batch) empty() bool {
	return len(b.Usage) == 0 && len(b.Keys) == 0 && len(b.Sessions) == 0
}

// usageKey returns "YYYY-MM-DD/lineage" for day's UTC date. The day comes
// first so that one day's counts sit together in the file: a flush, which
// writes today's counts, then dirties a few pages instead of one page per
// lineage scattered over the whole file.
func usageKey(lineage string, day time.Time) []byte {
	return compositeKey(day.UTC().Format(dayLayout), lineage)
}

// Flush writes a batch of write-behind counters in one write transaction.
// Counts are absolute and only grow within a day, so each stored count becomes
// max(stored, new): replaying a batch, or flushing out of order, is harmless.
// A key's or session's LastUsedAt is set only if the new time is later than
// the stored one; an id that no longer exists is skipped silently. An empty
// batch starts no transaction. It returns ErrInvalid, and writes nothing, if
// any lineage is empty or contains "/". Safe for concurrent use.
func (db *DB) Flush(ctx context.Context, b Batch) error {
	if b.empty() {
		return nil
	}
	for _, u := range b.Usage {
		if err := validID("lineage", u.Lineage); err != nil {
			return err
		}
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		if err := flushUsage(tx.Bucket(bucketUsage), b.Usage); err != nil {
			return err
		}
		if err := flushKeyLastUsed(tx, b.Keys); err != nil {
			return err
		}
		sessionLastUsed := func(r *sessionRecord) *time.Time { return &r.LastUsedAt }
		return flushLastUsed(tx.Bucket(bucketSessions), b.Sessions, sessionLastUsed)
	})
}

// flushUsage stores max(stored, new) for each count, in key order: bbolt
// inserts into a page's sorted slice, so keys put in random order cost a
// copy of the page's entries each, and a day's first flush of many keys
// went quadratic.
func flushUsage(b *bolt.Bucket, usage []Usage) error {
	keys := make([][]byte, len(usage))
	order := make([]int, len(usage))
	for i, u := range usage {
		keys[i], order[i] = usageKey(u.Lineage, u.Day), i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	for _, i := range order {
		u := usage[i]
		stored, _ := decodeUint(b.Get(keys[i])) // a missing or malformed count is 0
		if u.Count <= 0 || uint64(u.Count) <= stored {
			continue
		}
		if err := b.Put(keys[i], encodeUint(uint64(u.Count))); err != nil {
			return err
		}
	}
	return nil
}

// flushKeyLastUsed stores the last use of each existing key as 8 bytes in
// its own bucket. Rewriting each key's JSON record instead cost most of a
// flush: a busy server's flush touches every key used in the last second.
func flushKeyLastUsed(tx *bolt.Tx, entries []LastUsed) error {
	keys, b := tx.Bucket(bucketKeys), tx.Bucket(bucketKeyLastUsed)
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b LastUsed) int { return strings.Compare(a.ID, b.ID) }) // see flushUsage
	for _, lu := range entries {
		id := []byte(lu.ID)
		if keys.Get(id) == nil {
			continue // revoked and gone, or never there
		}
		stored, _ := decodeUint(b.Get(id))
		at := uint64(lu.At.UnixNano())
		if at <= stored {
			continue
		}
		if err := b.Put(id, encodeUint(at)); err != nil {
			return err
		}
	}
	return nil
}

// flushLastUsed moves the last-use time of each existing record in b forward.
// lastUsedAt returns a pointer to the record's LastUsedAt field.
func flushLastUsed[R any](b *bolt.Bucket, entries []LastUsed, lastUsedAt func(*R) *time.Time) error {
	for _, lu := range entries {
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

// UsageCount returns the stored count of lineage on day's UTC date, or 0 if
// none is stored. Counts not yet flushed by the caller are not included.
func (db *DB) UsageCount(ctx context.Context, lineage string, day time.Time) (int64, error) {
	var n uint64
	err := db.view(ctx, func(tx *bolt.Tx) error {
		n, _ = decodeUint(tx.Bucket(bucketUsage).Get(usageKey(lineage, day))) // missing is 0
		return nil
	})
	return int64(n), err
}

// UsageRange returns the stored counts of lineage for the UTC days from..to,
// both inclusive, in ascending order. Days without a stored count are left
// out; from after to gives an empty result.
func (db *DB) UsageRange(ctx context.Context, lineage string, from, to time.Time) ([]Usage, error) {
	var out []Usage
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = usageRange(tx.Bucket(bucketUsage), lineage, from, to)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// usageRange reads lineage's count for each day from..to: one lookup a
// day, since the days of one lineage are apart in the file.
func usageRange(b *bolt.Bucket, lineage string, from, to time.Time) ([]Usage, error) {
	out := []Usage{}
	first := from.UTC().Truncate(24 * time.Hour)
	for day := first; !day.After(to.UTC()); day = day.AddDate(0, 0, 1) {
		if v := b.Get(usageKey(lineage, day)); v != nil {
			n, _ := decodeUint(v) // a malformed count reads as 0
			out = append(out, Usage{Lineage: lineage, Day: day, Count: int64(n)})
		}
	}
	return out, nil
}
