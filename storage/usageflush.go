package storage

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keygate/keygate/internal/offheap"
)

// usageEntry is one count of a batch on its way into its blob. It holds
// no pointer, so that the sorted batch can live off the heap (see
// scratch.go): its lineage is names[at:at+size] in the batch's names.
type usageEntry struct {
	word  uint64 // lineage's first 8 bytes, zero-padded: orders as lineage does, mostly without a byte compare
	n     uint64
	at    uint32
	size  uint32
	day   int32 // UTC days since 1970-01-01
	shard uint16
}

// lineage returns e's lineage in names, the names of e's batch.
func (e *usageEntry) lineage(names []byte) []byte {
	return names[e.at : e.at+e.size : e.at+e.size]
}

// batchEntry is a usageEntry before it is sorted: its lineage is that of
// the Usage at src in the batch.
type batchEntry struct {
	n     uint64
	src   uint32
	day   int32
	shard uint16
}

// usageGroups is a batch grouped by groupUsage: its entries in blob order
// and their lineages, both in the scratch that grouped them.
type usageGroups struct {
	entries []usageEntry
	names   []byte
}

// flushScratch is a flush's working memory, kept for the next flush in
// DB.scratch: a flush of 100000 counters needs several MB, and allocating
// them anew every second made the collector run in the requests' time.
// Its arrays are in mem's blocks (see scratch.go); with a nil mem, on the
// heap.
//
// The lineages are copied into names in blob order: the batch's strings
// lie all over the heap, and reading them again and again while sorting
// and merging missed the cache each time, a third of a flush.
type flushScratch struct {
	mem     *offheap.Arena
	entries scratchArray[batchEntry]
	sorted  scratchArray[usageEntry]
	names   scratchArray[byte]
	// Per shard: where its entries start (then end) in sorted, and its
	// lineages in names.
	starts, nameStarts [usageShards + 1]int
	// The last uses of keys, their ids, and sortEntries' own arrays.
	keys, spread scratchArray[entry]
	keyNames     scratchArray[byte]
	keyStarts    scratchArray[int]
	// vals holds the values put, in valsMem if mem is set; bbolt needs
	// them until the commit, so a block they outgrow is retired, and
	// given back only then (see done).
	vals      []byte
	valsMem   []byte
	valsRoomy patience
	retired   [][]byte
}

// maxBatchNames bounds the bytes of lineage in one batch, so that
// usageEntry's offsets fit in 32 bits.
const maxBatchNames = 1<<32 - 1

// groupUsage returns the positive counts of usage in blob order, by day
// then shard, and within a blob by lineage. The result lives in s until
// the next call. tick is called after each entry of each pass. The
// lineages of usage must total at most maxBatchNames bytes.
func (s *flushScratch) groupUsage(usage []Usage, tick func()) usageGroups {
	es := s.entries.take(s.mem, len(usage))
	k, oneDay, size := 0, true, 0
	for i, u := range usage {
		tick()
		if u.Count <= 0 {
			continue
		}
		e := batchEntry{src: uint32(i), n: uint64(u.Count), day: int32(unixDay(u.Day)), shard: usageShard(u.Lineage)}
		oneDay = oneDay && (k == 0 || e.day == es[0].day)
		es[k] = e
		k++
		size += len(u.Lineage)
	}
	es = es[:k]
	if !oneDay { // rare: a batch spanning midnight, or one retried across it
		slices.SortStableFunc(es, func(a, b batchEntry) int { return cmp.Compare(a.day, b.day) })
	}
	sorted := s.sorted.take(s.mem, len(es))
	names := s.names.take(s.mem, size)
	for i, at := 0, 0; i < len(es); {
		j, size := i, 0
		for ; j < len(es) && es[j].day == es[i].day; j++ {
			size += len(usage[es[j].src].Lineage)
		}
		s.sortDay(usage, es[i:j], sorted[i:j], names, at, tick)
		i, at = j, at+size
	}
	return usageGroups{entries: sorted, names: names}
}

// sortDay puts one day's entries into dst ordered by shard, then lineage,
// their lineages copied into names from base on in that order. By shard
// is a counting sort: a comparison sort of 100000 entries alone took
// longer than the whole flush should. Each shard then holds a few dozen
// entries to sort.
func (s *flushScratch) sortDay(usage []Usage, src []batchEntry, dst []usageEntry, names []byte, base int, tick func()) {
	clear(s.starts[:])
	clear(s.nameStarts[:])
	for _, e := range src {
		tick()
		s.starts[int(e.shard)+1]++
		s.nameStarts[int(e.shard)+1] += len(usage[e.src].Lineage)
	}
	for i := 1; i < len(s.starts); i++ {
		s.starts[i] += s.starts[i-1]
		s.nameStarts[i] += s.nameStarts[i-1]
	}
	for _, e := range src { // afterwards starts[sh] is where shard sh ends
		tick()
		lineage := usage[e.src].Lineage
		at := base + s.nameStarts[e.shard]
		copy(names[at:], lineage)
		s.nameStarts[e.shard] += len(lineage)
		dst[s.starts[e.shard]] = usageEntry{at: uint32(at), size: uint32(len(lineage)), word: prefixWord(lineage), n: e.n, day: e.day, shard: e.shard}
		s.starts[e.shard]++
	}
	start := 0
	for _, end := range s.starts[:usageShards] {
		tick()
		sortEntriesShort(dst[start:end], names)
		start = end
	}
}

// sortEntriesShort sorts es, whose lineages are in names, by lineage. An
// insertion sort, inlined: the few dozen entries of a shard sorted by
// slices.SortFunc cost a sixth of a flush in calls to the comparison.
func sortEntriesShort(es []usageEntry, names []byte) {
	if len(es) > 64 { // a day far busier than usageShards was chosen for
		slices.SortFunc(es, func(a, b usageEntry) int { return compareEntries(a, b, names) })
		return
	}
	for i := 1; i < len(es); i++ {
		e := es[i]
		j := i
		for ; j > 0 && (es[j-1].word > e.word || (es[j-1].word == e.word && bytes.Compare(es[j-1].lineage(names), e.lineage(names)) > 0)); j-- {
			es[j] = es[j-1]
		}
		es[j] = e
	}
}

// compareEntries orders a and b, whose lineages are in names, by lineage.
func compareEntries(a, b usageEntry, names []byte) int {
	if c := cmp.Compare(a.word, b.word); c != 0 {
		return c
	}
	return bytes.Compare(a.lineage(names), b.lineage(names))
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

// flushUsage merges the counts of g, grouped by s.groupUsage, into their
// stored blobs: one read and at most one Put a blob. It appends the
// values it puts to vals, with room from s, and returns it.
func (s *flushScratch) flushUsage(b *bolt.Bucket, g usageGroups, vals []byte, tick func()) ([]byte, error) {
	c := b.Cursor()
	key := make([]byte, 0, usageBlobKeyLen) // bbolt copies keys, not values
	es := g.entries
	for i := 0; i < len(es); {
		tick()
		j, room := i+1, maxRecordLen(es[i])
		for j < len(es) && es[j].day == es[i].day && es[j].shard == es[i].shard {
			room += maxRecordLen(es[j])
			j++
		}
		if i == 0 || es[i].day != es[i-1].day {
			key = appendUsageDay(key[:0], time.Unix(int64(es[i].day)*86400, 0))
		}
		key = binary.BigEndian.AppendUint16(key[:len(dayLayout)], es[i].shard)
		stored := get(c, key)
		vals = s.room(vals, len(stored)+room)
		start := len(vals)
		vals = mergeBlob(vals, stored, es[i:j], g.names)
		if v := vals[start:len(vals):len(vals)]; bytes.Equal(v, stored) {
			vals = vals[:start] // nothing grew: leave the page clean
		} else if err := b.Put(key, v); err != nil {
			return vals, err
		}
		i = j
	}
	return vals, nil
}

// maxRecordLen bounds the length of e's record in a blob.
func maxRecordLen(e usageEntry) int { return int(e.size) + 2*binary.MaxVarintLen64 }

// room returns vals with room for n more bytes. With no Arena, append
// makes room as it goes. Otherwise vals moves to a larger block if need
// be, and the old one is retired: the values put so far still point into
// it. Were the room short, mergeBlob's appends would move vals to the
// heap, where bbolt's references keep the values: still correct.
func (s *flushScratch) room(vals []byte, n int) []byte {
	if s.mem == nil || cap(vals)-len(vals) >= n {
		return vals
	}
	size := max(2*cap(vals), len(vals)+n, scratchKeep)
	mem := s.mem.Block(size)
	vals = mem[:copy(mem, vals)]
	if s.valsMem != nil {
		s.retired = append(s.retired, s.valsMem)
	}
	s.valsMem = mem
	return vals
}

// done gives back what the flush that ended no longer needs: the blocks
// vals outgrew, and vals' own once it has been far larger than flushes
// needed for scratchPatience of them.
// bbolt holds the values until the transaction ends: done must follow it.
func (s *flushScratch) done() {
	for _, b := range s.retired {
		s.mem.Release(b)
	}
	clear(s.retired)
	s.retired = s.retired[:0]
	if s.valsMem != nil && s.valsRoomy.over(tooRoomy(len(s.valsMem), len(s.vals))) {
		s.mem.Release(s.valsMem)
		s.vals, s.valsMem = nil, nil
	}
	// Only a large batch of last uses needs these, about once a minute.
	s.spread.release(s.mem)
	s.keyStarts.release(s.mem)
}
