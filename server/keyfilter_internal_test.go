package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func testHash(i int) [32]byte { return sha256.Sum256(fmt.Appendf(nil, "key %d", i)) }

// walkOf is a store walk giving hashes in byte order, as bbolt does.
func walkOf(hashes ...[32]byte) func(context.Context, func([32]byte) error) error {
	sorted := slices.Clone(hashes)
	slices.SortFunc(sorted, func(a, b [32]byte) int { return slices.Compare(a[:], b[:]) })
	return func(ctx context.Context, fn func([32]byte) error) error {
		for _, h := range sorted {
			if err := fn(h); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestKeyFilter_UnloadedSaysMaybe(t *testing.T) {
	f := newKeyFilter()
	f.add(testHash(1))
	for i := range 100 {
		if !f.mayHold(testHash(i)) {
			t.Fatalf("hash %d refused before the load", i)
		}
	}
}

func TestKeyFilter_Load(t *testing.T) {
	f := newKeyFilter()
	n, err := f.load(context.Background(), walkOf(testHash(1), testHash(2), testHash(3)))
	if err != nil || n != 3 {
		t.Fatalf("load = %d, %v; want 3, nil", n, err)
	}
	for i := 1; i <= 3; i++ {
		if !f.mayHold(testHash(i)) {
			t.Errorf("stored hash %d refused", i)
		}
	}
	if f.mayHold(testHash(4)) {
		t.Error("unknown hash let through")
	}
}

func TestKeyFilter_LoadFailsSaysMaybe(t *testing.T) {
	f := newKeyFilter()
	errClosed := errors.New("closed")
	_, err := f.load(context.Background(), func(context.Context, func([32]byte) error) error { return errClosed })
	if !errors.Is(err, errClosed) {
		t.Fatalf("load = %v, want %v", err, errClosed)
	}
	<-f.done
	if !f.mayHold(testHash(9)) {
		t.Error("a failed load refuses hashes")
	}
}

func TestKeyFilter_PrefixCollision(t *testing.T) {
	stored := testHash(1)
	twin := stored
	twin[31] ^= 0xff // the same 8-byte prefix, another hash
	f := newKeyFilter()
	if _, err := f.load(context.Background(), walkOf(stored)); err != nil {
		t.Fatal(err)
	}
	if !f.mayHold(twin) {
		t.Error("a hash sharing a stored prefix was refused: the filter is not its judge")
	}
	other := stored
	other[7] ^= 1
	if f.mayHold(other) {
		t.Error("a hash differing in the prefix was let through")
	}
}

// Keys added before, during and after the walk all stay known, whether or
// not the walk's snapshot had them.
func TestKeyFilter_AddsDuringLoadAreKept(t *testing.T) {
	f := newKeyFilter()
	f.add(testHash(100)) // created before the load: not in the walk below
	walked := make(chan struct{})
	resume := make(chan struct{})
	snapshot := walkOf(testHash(1), testHash(2))
	go func() {
		<-walked
		f.add(testHash(101)) // committed after the snapshot
		close(resume)
	}()
	_, err := f.load(context.Background(), func(ctx context.Context, fn func([32]byte) error) error {
		return snapshot(ctx, func(h [32]byte) error {
			if h == testHash(1) || h == testHash(2) {
				select {
				case <-walked:
				default:
					close(walked)
					<-resume
				}
			}
			return fn(h)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	f.add(testHash(102))
	for _, i := range []int{1, 2, 100, 101, 102} {
		if !f.mayHold(testHash(i)) {
			t.Errorf("hash %d refused", i)
		}
	}
	if f.mayHold(testHash(3)) {
		t.Error("unknown hash let through")
	}
}

func TestKeyFilter_MergeKeepsEverything(t *testing.T) {
	f := newKeyFilter()
	if _, err := f.load(context.Background(), walkOf(testHash(-1), testHash(-2))); err != nil {
		t.Fatal(err)
	}
	const n = 3*maxRecent + 7
	for i := range n {
		f.add(testHash(i))
		f.add(testHash(i)) // twice: kept once
	}
	p := f.set.Load()
	if len(p.recent) > maxRecent {
		t.Errorf("%d recent prefixes, want at most %d", len(p.recent), maxRecent)
	}
	if !slices.IsSorted(p.base.all) || !slices.IsSorted(p.recent) {
		t.Error("prefixes not sorted")
	}
	if got := len(p.base.all) + len(p.recent); got != n+2 {
		t.Errorf("%d prefixes held, want %d", got, n+2)
	}
	for i := -2; i < n; i++ {
		if !f.mayHold(testHash(i)) {
			t.Fatalf("hash %d refused after merging", i)
		}
	}
}

// Each writer's key is known the moment add returns, to every reader,
// however adds, merges and the load interleave.
func TestKeyFilter_ConcurrentAdds(t *testing.T) {
	f := newKeyFilter()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := f.load(context.Background(), walkOf(testHash(-1))); err != nil {
			t.Error(err)
		}
	})
	for w := range 4 {
		wg.Go(func() {
			for i := range maxRecent {
				h := testHash(w*maxRecent + i)
				f.add(h)
				if !f.mayHold(h) {
					t.Errorf("hash %d refused just after add", w*maxRecent+i)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := -1; i < 4*maxRecent; i++ {
		if !f.mayHold(testHash(i)) {
			t.Fatalf("hash %d refused", i)
		}
	}
}

func TestMergeSorted(t *testing.T) {
	tests := []struct{ a, b, want []uint64 }{
		{nil, nil, nil},
		{[]uint64{1, 3}, nil, []uint64{1, 3}},
		{nil, []uint64{2}, []uint64{2}},
		{[]uint64{1, 3, 5}, []uint64{2, 3, 6}, []uint64{1, 2, 3, 5, 6}},
	}
	for _, tc := range tests {
		if got := mergeSorted(tc.a, tc.b); !slices.Equal(got, tc.want) {
			t.Errorf("mergeSorted(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSortedPrefixes(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 16, 17, 1000, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 1))
			held := map[uint64]bool{}
			edges := []uint64{0, 1, math.MaxUint64, math.MaxUint64 - 1, 1 << 63}
			for i := 0; len(held) < n; i++ {
				if i < len(edges) && i%2 == 0 {
					held[edges[i]] = true
				} else {
					held[rng.Uint64()] = true
				}
			}
			all := slices.Sorted(maps.Keys(held))
			s := newSortedPrefixes(all)
			for x := range held {
				if !s.has(x) {
					t.Fatalf("%#x missing", x)
				}
			}
			probes := append(slices.Clone(edges), rng.Uint64(), rng.Uint64())
			for _, x := range all {
				probes = append(probes, x-1, x+1)
			}
			for _, x := range probes {
				if s.has(x) != held[x] {
					t.Fatalf("has(%#x) = %v, want %v", x, s.has(x), held[x])
				}
			}
		})
	}
}
