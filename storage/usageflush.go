package storage

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// usageEntry is one count of a batch on its way into its blob.
type usageEntry struct {
	lineage []byte // in flushScratch.names: near the others, not all over the heap
	word    uint64 // lineage's first 8 bytes, zero-padded: orders as lineage does, mostly without a byte compare
	n       uint64
	day     int32 // UTC days since 1970-01-01
	shard   uint16
}

// batchEntry is a usageEntry before it is sorted.
type batchEntry struct {
	lineage string
	n       uint64
	day     int32
	shard   uint16
}

// flushScratch is a flush's working memory, kept for the next flush in
// DB.scratch: a flush of 100000 counters needs several MB, and allocating
// them anew every second made the collector run in the requests' time.
//
// The lineages are copied into names in blob order: the batch's strings
// lie all over the heap, and reading them again and again while sorting
// and merging missed the cache each time, a third of a flush.
type flushScratch struct {
	entries []batchEntry
	sorted  []usageEntry
	names   []byte
	// Per shard: where its entries start (then end) in sorted, and its
	// lineages in names.
	starts, nameStarts [usageShards + 1]int
	vals               []byte // the values put; bbolt needs them until the commit
}

// groupUsage returns the positive counts of usage in blob order, by day
// then shard, and within a blob by lineage. The result lives in s.
// tick is called after each entry of each pass.
func (s *flushScratch) groupUsage(usage []Usage, tick func()) []usageEntry {
	es := slices.Grow(s.entries[:0], len(usage))
	oneDay, size := true, 0
	for _, u := range usage {
		tick()
		if u.Count <= 0 {
			continue
		}
		e := batchEntry{lineage: u.Lineage, n: uint64(u.Count), day: int32(unixDay(u.Day)), shard: usageShard(u.Lineage)}
		oneDay = oneDay && (len(es) == 0 || e.day == es[0].day)
		es = append(es, e)
		size += len(u.Lineage)
	}
	s.entries = es
	if !oneDay { // rare: a batch spanning midnight, or one retried across it
		slices.SortStableFunc(es, func(a, b batchEntry) int { return cmp.Compare(a.day, b.day) })
	}
	s.sorted = slices.Grow(s.sorted[:0], len(es))[:len(es)]
	s.names = slices.Grow(s.names[:0], size)[:size]
	for i, at := 0, 0; i < len(es); {
		j, size := i, 0
		for ; j < len(es) && es[j].day == es[i].day; j++ {
			size += len(es[j].lineage)
		}
		s.sortDay(es[i:j], s.sorted[i:j], s.names[at:at+size], tick)
		i, at = j, at+size
	}
	return s.sorted
}

// sortDay puts one day's entries into dst ordered by shard, then lineage,
// their lineages copied into names in that order. By shard is a counting
// sort: a comparison sort of 100000 entries alone took longer than the
// whole flush should. Each shard then holds a few dozen entries to sort.
func (s *flushScratch) sortDay(src []batchEntry, dst []usageEntry, names []byte, tick func()) {
	clear(s.starts[:])
	clear(s.nameStarts[:])
	for _, e := range src {
		tick()
		s.starts[int(e.shard)+1]++
		s.nameStarts[int(e.shard)+1] += len(e.lineage)
	}
	for i := 1; i < len(s.starts); i++ {
		s.starts[i] += s.starts[i-1]
		s.nameStarts[i] += s.nameStarts[i-1]
	}
	for _, e := range src { // afterwards starts[sh] is where shard sh ends
		tick()
		at := s.nameStarts[e.shard]
		end := at + copy(names[at:], e.lineage)
		s.nameStarts[e.shard] = end
		dst[s.starts[e.shard]] = usageEntry{lineage: names[at:end:end], word: prefixWord(e.lineage), n: e.n, day: e.day, shard: e.shard}
		s.starts[e.shard]++
	}
	start := 0
	for _, end := range s.starts[:usageShards] {
		tick()
		sortEntriesShort(dst[start:end])
		start = end
	}
}

// sortEntriesShort sorts es by lineage. An insertion sort, inlined: the
// few dozen entries of a shard sorted by slices.SortFunc cost a sixth of a
// flush in calls to the comparison.
func sortEntriesShort(es []usageEntry) {
	if len(es) > 64 { // a day far busier than usageShards was chosen for
		slices.SortFunc(es, compareEntries)
		return
	}
	for i := 1; i < len(es); i++ {
		e := es[i]
		j := i
		for ; j > 0 && (es[j-1].word > e.word || (es[j-1].word == e.word && bytes.Compare(es[j-1].lineage, e.lineage) > 0)); j-- {
			es[j] = es[j-1]
		}
		es[j] = e
	}
}

func compareEntries(a, b usageEntry) int {
	if c := cmp.Compare(a.word, b.word); c != 0 {
		return c
	}
	return bytes.Compare(a.lineage, b.lineage)
}

// prefixWord returns the first 8 bytes of s as a big-endian number,
// zero-padded: a shorter s is a prefix, which sorts first, so the word
// never contradicts byte order.
func prefixWord[S ~string | ~[]byte](s S) uint64 {
	var w [8]byte
	copy(w[:], s)
	return binary.BigEndian.Uint64(w[:])
}

// unixDay returns t's UTC day as days since 1970-01-01.
func unixDay(t time.Time) int64 {
	sec := t.Unix()
	d := sec / 86400
	if sec%86400 < 0 {
		d--
	}
	return d
}

// The first and last days (unixDay) whose year has 4 digits, the width of
// a blob key's date: 0001-01-01 and 9999-12-31.
const (
	minUsageDay = -719162
	maxUsageDay = 2932896
)

// validDay reports ErrInvalid for a count's day outside the years 1 to 9999.
func validDay(t time.Time) error {
	if d := unixDay(t); d < minUsageDay || d > maxUsageDay {
		return fmt.Errorf("%w: usage day %v is not in the years 1 to 9999", ErrInvalid, t)
	}
	return nil
}

// flushUsage merges the counts of es, in blob order (see groupUsage), into
// their stored blobs: one read and at most one Put a blob. It appends the
// values it puts to vals and returns it.
func flushUsage(b *bolt.Bucket, es []usageEntry, vals []byte, tick func()) ([]byte, error) {
	c := b.Cursor()
	key := make([]byte, 0, usageBlobKeyLen) // bbolt copies keys, not values
	for i := 0; i < len(es); {
		tick()
		j := i + 1
		for j < len(es) && es[j].day == es[i].day && es[j].shard == es[i].shard {
			j++
		}
		if i == 0 || es[i].day != es[i-1].day {
			key = appendUsageDay(key[:0], time.Unix(int64(es[i].day)*86400, 0))
		}
		key = binary.BigEndian.AppendUint16(key[:len(dayLayout)], es[i].shard)
		stored := get(c, key)
		start := len(vals)
		vals = mergeBlob(vals, stored, es[i:j])
		if v := vals[start:len(vals):len(vals)]; bytes.Equal(v, stored) {
			vals = vals[:start] // nothing grew: leave the page clean
		} else if err := b.Put(key, v); err != nil {
			return vals, err
		}
		i = j
	}
	return vals, nil
}
