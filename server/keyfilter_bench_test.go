package server

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

// sortedHashes is n random hashes in byte order, as the store walks them.
func sortedHashes(n int) [][32]byte {
	rng := rand.NewChaCha8([32]byte{7})
	hs := make([][32]byte, n)
	for i := range hs {
		rng.Read(hs[i][:])
	}
	slices.SortFunc(hs, func(a, b [32]byte) int { return slices.Compare(a[:], b[:]) })
	return hs
}

// BenchmarkKeyFilterLoad1M is the background load for a million stored
// keys, without the store's own walk: what start-up adds on top of it.
func BenchmarkKeyFilterLoad1M(b *testing.B) {
	walk := walkOf(sortedHashes(1 << 20)...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newKeyFilter().load(context.Background(), walk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyFilterMayHold1M is the hot path's question for a hash that
// is not stored, among a million stored keys and a full overlay.
func BenchmarkKeyFilterMayHold1M(b *testing.B) {
	f := newKeyFilter()
	if _, err := f.load(context.Background(), walkOf(sortedHashes(1<<20)...)); err != nil {
		b.Fatal(err)
	}
	for i := range maxRecent {
		f.add(testHash(i))
	}
	probes := sortedHashes(4096)
	for i := range probes {
		binary.BigEndian.PutUint64(probes[i][:8], rand.Uint64()) // out of the stored order
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if f.mayHold(probes[i%len(probes)]) {
			b.Fatal("unknown hash let through")
		}
		i++
	}
}
