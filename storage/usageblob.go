package storage

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"time"
)

// Daily counts (schema 3) are stored in blobs: each UTC day's counts are
// spread over usageShards blobs by a hash of the lineage, and each blob
// holds its records sorted by lineage. A flush of 100000 counters then
// rewrites a few thousand values of a few hundred bytes instead of putting
// 100000 keys: one bbolt Put per counter (two B+tree seeks, a node insert)
// was a third of a second of CPU on a one-core server (issue 6).
//
// Blob key: the day as "2006-01-02" followed by the shard as 2 bytes
// big-endian, so one day's blobs sit together and in order.
// Blob value: records [uvarint len(lineage)][lineage][uvarint count], in
// strictly increasing byte order of lineage. Counts are small, so the
// varint keeps a record of a 24-byte key id near 28 bytes.

// usageShards is how many blobs one day's counts are spread over. It is
// part of the file format (a lineage's blob is its hash modulo
// usageShards): changing it needs a new schema version and a migration.
//
// 8192 weighs two cases. Dense, 100000 lineages used in the day and all
// dirty: about 12 records (~350 bytes) a blob, 8192 Puts a flush where
// there were 100000. Sparse, 1000000 lineages used but 1000 dirty a
// flush: each dirty counter rewrites its whole blob, about 120 records
// (~3.4 KB), about what the one-key-a-count layout rewrote (the 4 KB leaf
// page holding the count). 4096 halved the dense flush's Puts but
// measured no faster there, and doubled the sparse flush's bytes, its
// blobs spilling onto overflow pages.
const usageShards = 8192

// usageBlobKeyLen is the length of a blob key: day and shard.
const usageBlobKeyLen = len(dayLayout) + 2

// usageShard returns the shard of lineage. Like usageShards it is part of
// the file format and must never change; TestUsageShard_Stable pins it.
// The hash multiplies 8 bytes at a time (byte-at-a-time FNV-1a of 100000
// key ids was a tenth of a flush) and mixes at the end, so that ids that
// differ in a few bytes still spread evenly (TestUsageShard_Spreads).
func usageShard[S ~string | ~[]byte](lineage S) uint16 {
	const k = 0x9e3779b97f4a7c15
	h := uint64(len(lineage))
	for len(lineage) > 0 {
		var w [8]byte
		n := copy(w[:], lineage)
		lineage = lineage[n:]
		h = bits.RotateLeft64((h^binary.LittleEndian.Uint64(w[:]))*k, 31)
	}
	h ^= h >> 33 // a final mix, so that ids differing in a few bits spread
	h *= k
	h ^= h >> 33
	return uint16(h % usageShards)
}

// appendUsageDay appends the key prefix of day: its UTC date.
func appendUsageDay(dst []byte, day time.Time) []byte {
	return day.UTC().AppendFormat(dst, dayLayout)
}

// usageBlobKey returns the key of lineage's blob for day's UTC date.
func usageBlobKey(lineage string, day time.Time) []byte {
	k := appendUsageDay(make([]byte, 0, usageBlobKeyLen), day)
	return binary.BigEndian.AppendUint16(k, usageShard(lineage))
}

// blobReader reads a blob's records in order. A malformed record (a bad
// varint, a length past the end, an empty lineage, a count above
// math.MaxInt64, a lineage not after the one before) ends the blob: what
// was read before it stands, what follows is ignored. Reading never
// panics, whatever the bytes (FuzzMergeUsageBlob).
type blobReader struct {
	rest []byte
	prev []byte // the lineage read last
}

// next returns the next record, or ok false at the end or at a malformed record.
func (r *blobReader) next() (lineage []byte, n uint64, ok bool) {
	size, k := binary.Uvarint(r.rest)
	if k <= 0 || size == 0 || size > uint64(len(r.rest)-k) {
		r.rest = nil
		return nil, 0, false
	}
	lineage, rest := r.rest[k:k+int(size)], r.rest[k+int(size):]
	n, k = binary.Uvarint(rest)
	if k <= 0 || n > math.MaxInt64 || (r.prev != nil && bytes.Compare(r.prev, lineage) >= 0) {
		r.rest = nil
		return nil, 0, false
	}
	r.rest, r.prev = rest[k:], lineage
	return lineage, n, true
}

// blobCount returns lineage's count in blob, or 0 if it holds none. It
// stops at the first lineage past the one sought.
func blobCount(blob []byte, lineage string) uint64 {
	r := blobReader{rest: blob}
	for l, n, ok := r.next(); ok; l, n, ok = r.next() {
		if string(l) >= lineage { // compared in place, not copied
			if string(l) == lineage {
				return n
			}
			return 0
		}
	}
	return 0
}

// appendRecord appends one blob record.
func appendRecord[S ~string | ~[]byte](dst []byte, lineage S, n uint64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(lineage)))
	dst = append(dst, lineage...)
	return binary.AppendUvarint(dst, n)
}

// mergeBlob appends to dst the blob that holds stored's records and the
// counts of news, whose lineages are in names, and which must be sorted
// by lineage (repeats allowed), each lineage once with the larger of its
// counts: counts are absolute and only grow within a day, so replaying a
// stale batch changes nothing. stored's records after a malformed one are
// dropped (see blobReader).
func mergeBlob(dst, stored []byte, news []usageEntry, names []byte) []byte {
	r := blobReader{rest: stored}
	l, n, ok := r.next()
	lw := prefixWord(l)
	for i := 0; ok || i < len(news); {
		if i == len(news) || (ok && lessStored(l, lw, news[i], names)) {
			dst = appendRecord(dst, l, n)
			l, n, ok = r.next()
			lw = prefixWord(l)
			continue
		}
		e := news[i]
		el := e.lineage(names)
		for i++; i < len(news) && news[i].word == e.word && bytes.Equal(news[i].lineage(names), el); i++ {
			e.n = max(e.n, news[i].n)
		}
		if ok && lw == e.word && bytes.Equal(l, el) {
			e.n = max(e.n, n)
			l, n, ok = r.next()
			lw = prefixWord(l)
		}
		dst = appendRecord(dst, el, e.n)
	}
	return dst
}

// lessStored reports whether the stored lineage l, whose prefixWord is lw,
// sorts before e's, which is in names; the words decide most pairs
// without a byte compare.
func lessStored(l []byte, lw uint64, e usageEntry, names []byte) bool {
	if lw != e.word {
		return lw < e.word
	}
	return bytes.Compare(l, e.lineage(names)) < 0
}
