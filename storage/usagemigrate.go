package storage

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// migrateUsageBlobs moves version 2's counts, one key a count
// ("2006-01-02/lineage" -> 8 bytes), into version 3's blobs and drops the
// old bucket, in the transaction that opens the file. The old keys sort by
// day, so it holds one day's counts at a time, not the whole history. A
// count that is zero or malformed read as 0 before and is left out; a key
// without a day is an error, as precedent (migrateUsageDayFirst) has it.
func migrateUsageBlobs(tx *bolt.Tx) error {
	old := tx.Bucket(bucketUsageV2)
	if old == nil {
		return nil // a file that never had counts
	}
	dst := tx.Bucket(bucketUsage)
	var (
		s       flushScratch
		counts  []Usage
		prevDay []byte
		vals    []byte // only grows: bbolt needs every value until the commit
	)
	write := func() error {
		var err error
		vals, err = s.flushUsage(dst, s.groupUsage(counts, noPace), vals, noPace)
		counts = counts[:0]
		return err
	}
	c := old.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		u, err := parseUsageV2(k, v)
		if err != nil {
			return err
		}
		if day := k[:len(dayLayout)]; !bytes.Equal(day, prevDay) {
			if err := write(); err != nil {
				return err
			}
			prevDay = day
		}
		if u.Count > 0 {
			counts = append(counts, u)
		}
	}
	if err := write(); err != nil {
		return err
	}
	return tx.DeleteBucket(bucketUsageV2)
}

// parseUsageV2 decodes one version 2 count; a malformed value is 0.
func parseUsageV2(k, v []byte) (Usage, error) {
	if len(k) < len(dayLayout)+2 || k[len(dayLayout)] != '/' {
		return Usage{}, fmt.Errorf("malformed usage key %q", k)
	}
	day, err := time.Parse(dayLayout, string(k[:len(dayLayout)]))
	if err != nil {
		return Usage{}, fmt.Errorf("malformed usage key %q: %w", k, err)
	}
	n, _ := decodeUint(v)
	if int64(n) < 0 {
		n = 0 // past what a count can be: malformed
	}
	return Usage{Lineage: string(k[len(dayLayout)+1:]), Day: day, Count: int64(n)}, nil
}
