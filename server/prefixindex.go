package server

import (
	"math/bits"
	"slices"
)

// prefixesPerBucket is the mean number of prefixes a sortedPrefixes
// bucket holds: one cache line's worth, for 0.5 byte of index per prefix.
const prefixesPerBucket = 8

// sortedPrefixes is an immutable sorted set of key prefixes with an index
// on their top bits, so that asking for one touches two cache lines, not
// the twenty of a binary search over a million prefixes. The zero value
// is the empty set.
type sortedPrefixes struct {
	all   []uint64 // sorted, no duplicates
	index []uint32 // index[b]: the position in all of the first prefix whose top bits are b or more
	shift uint     // 64 minus the number of top bits indexed
}

// newSortedPrefixes indexes all, which must be sorted and free of
// duplicates. The set keeps all: it must not be modified afterwards.
func newSortedPrefixes(all []uint64) sortedPrefixes {
	if len(all) == 0 {
		return sortedPrefixes{}
	}
	width := min(bits.Len(uint(len(all)/prefixesPerBucket)), 32)
	s := sortedPrefixes{all: all, shift: uint(64 - width), index: make([]uint32, 1<<width+1)}
	j := 0
	for b := range 1 << width {
		for j < len(all) && all[j]>>s.shift < uint64(b) {
			j++
		}
		s.index[b] = uint32(j)
	}
	s.index[1<<width] = uint32(len(all))
	return s
}

// has reports whether x is in the set.
func (s sortedPrefixes) has(x uint64) bool {
	if len(s.all) == 0 {
		return false
	}
	b := x >> s.shift // shift is 64 for an index of one bucket: b is 0
	_, found := slices.BinarySearch(s.all[s.index[b]:s.index[b+1]], x)
	return found
}
