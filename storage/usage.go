package storage

import (
	"context"
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

	// Pace, if not nil, is called after each small unit of the flush's
	// work (a record, a blob). A server on one core sleeps in it now and
	// then (see internal/pace), so requests run while a large batch is
	// written. It may hold the transaction open that much longer.
	Pace func()
}

// pace returns b.Pace, or noPace.
func (b Batch) pace() func() {
	if b.Pace == nil {
		return noPace
	}
	return b.Pace
}

// noPace is the Pace of a batch that has none.
func noPace() {}

// empty reports whether b holds nothing to write.
func (b Batch) empty() bool {
	return len(b.Usage) == 0 && len(b.Keys) == 0 && len(b.Sessions) == 0
}

// UsageCount returns the stored count of lineage on day's UTC date, or 0 if
// none is stored. Counts not yet flushed by the caller are not included.
func (db *DB) UsageCount(ctx context.Context, lineage string, day time.Time) (int64, error) {
	var n uint64
	err := db.view(ctx, func(tx *bolt.Tx) error {
		n = blobCount(tx.Bucket(bucketUsage).Get(usageBlobKey(lineage, day)), lineage)
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

// usageRange reads lineage's count for each day from..to: one blob a day.
func usageRange(b *bolt.Bucket, lineage string, from, to time.Time) ([]Usage, error) {
	out := []Usage{}
	first := from.UTC().Truncate(24 * time.Hour)
	for day := first; !day.After(to.UTC()); day = day.AddDate(0, 0, 1) {
		if n := blobCount(b.Get(usageBlobKey(lineage, day)), lineage); n > 0 {
			out = append(out, Usage{Lineage: lineage, Day: day, Count: int64(n)})
		}
	}
	return out, nil
}
