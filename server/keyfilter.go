package server

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/auth"
)

// maxRecent is how many prefixes a keyFilter adds one by one before it
// merges them into its base. Each add copies the recent ones and each merge
// copies the base, so this bounds both: 8 KiB per add, and one base copy
// per maxRecent adds.
const maxRecent = 1024

// keyFilter answers "is any key stored with this hash?" from memory, with
// no false "no": it holds the first 8 bytes of the hash of every stored
// key, whatever its state, so a hash whose prefix it lacks is certainly
// unknown. A prefix it holds proves nothing (two hashes may share one):
// the caller then asks the cache and the store as if there were no filter.
//
// Until load has walked the store, every hash may be stored. Keys the
// server stores itself are added after their commit and before the client
// learns them; keys stored while the server was stopped are found by load.
//
// Readers take no lock: they load one immutable set. Writers (add, load)
// build a new set under mu and publish it. Safe for concurrent use.
type keyFilter struct {
	set  atomic.Pointer[prefixSet]
	mu   sync.Mutex    // serialises writers, so none loses another's prefixes
	done chan struct{} // closed when load returns, loaded or not
}

// prefixSet is one immutable state of a keyFilter. The prefixes held are
// those of base and recent together; until loaded, they are only the keys
// added so far, and the set claims nothing.
type prefixSet struct {
	loaded bool
	base   sortedPrefixes
	recent []uint64 // sorted; added since base was last merged, at most maxRecent
}

func newKeyFilter() *keyFilter {
	f := &keyFilter{done: make(chan struct{})}
	f.set.Store(&prefixSet{})
	return f
}

// keyPrefix is the part of a hash the filter keeps. SHA-256 output is
// uniform, so among a million keys 8 bytes let a random unknown hash
// through once in about eighteen trillion tries. Big-endian, so hashes in
// byte order give prefixes in numeric order.
func keyPrefix(h auth.KeyHash) uint64 { return binary.BigEndian.Uint64(h[:8]) }

// mayHold reports whether a key with hash h may be stored: false only if
// it certainly is not.
func (f *keyFilter) mayHold(h auth.KeyHash) bool {
	p := f.set.Load()
	if !p.loaded {
		return true
	}
	x := keyPrefix(h)
	_, inRecent := slices.BinarySearch(p.recent, x)
	if inRecent {
		return true
	}
	return p.base.has(x)
}

// add records a key the server has just stored. Call it after the commit
// and before the key is handed to anyone, so that no request presenting
// the key can find it missing.
func (f *keyFilter) add(h auth.KeyHash) {
	x := keyPrefix(h)
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.set.Load()
	i, found := slices.BinarySearch(cur.recent, x)
	if found || cur.base.has(x) {
		return
	}
	next := &prefixSet{loaded: cur.loaded, base: cur.base}
	next.recent = make([]uint64, 0, len(cur.recent)+1)
	next.recent = append(append(append(next.recent, cur.recent[:i]...), x), cur.recent[i:]...)
	if len(next.recent) > maxRecent {
		next.base, next.recent = newSortedPrefixes(mergeSorted(cur.base.all, next.recent)), nil
	}
	f.set.Store(next)
}

// load walks the hash of every stored key and makes the filter answer. A
// key committed after walk's snapshot is not missed: whoever stored it
// adds it, and what was added is kept. If walk fails, the filter goes on
// answering "maybe" for every hash: slower, never wrong. load closes
// f.done when it returns; call it once.
func (f *keyFilter) load(ctx context.Context, walk func(context.Context, func([32]byte) error) error) (int, error) {
	defer close(f.done)
	// Counted first, so that the prefixes take one allocation of the right
	// size: appending would allocate five times that on the way and keep
	// up to a quarter more. A second walk of the index costs less than
	// that garbage; keys stored in between are appended, or added.
	n := 0
	err := walk(ctx, func([32]byte) error {
		n++
		return nil
	})
	if err != nil {
		return 0, err
	}
	stored := make([]uint64, 0, n)
	err = walk(ctx, func(h [32]byte) error {
		stored = append(stored, keyPrefix(h))
		return nil
	})
	if err != nil {
		return 0, err
	}
	// The store walks its hash index in byte order, so this is sorted
	// already; checking is cheaper than trusting.
	if !slices.IsSorted(stored) {
		slices.Sort(stored)
	}
	stored = slices.Compact(stored)
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.set.Load()
	base := newSortedPrefixes(mergeSorted(stored, cur.base.all))
	f.set.Store(&prefixSet{loaded: true, base: base, recent: cur.recent})
	return len(stored), nil
}

// mergeSorted returns the sorted union of sorted a and b, without
// duplicates. It returns a itself when b is empty.
func mergeSorted(a, b []uint64) []uint64 {
	if len(b) == 0 {
		return a
	}
	out := make([]uint64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	out = append(append(out, a[i:]...), b[j:]...)
	return out
}

// loadKnownKeys loads s.known from the store. It runs in the background
// from New, so a store of millions of keys does not delay readiness; the
// requests served meanwhile take the slower, exact way.
func (s *Server) loadKnownKeys() {
	start := time.Now()
	n, err := s.known.load(context.Background(), s.db.ForEachKeyHash)
	if err != nil {
		s.log.Warn("loading API key hashes failed: unknown keys will be looked up in the store", "err", err)
		return
	}
	s.log.Debug("API key hashes loaded", "keys", n, "took", time.Since(start))
}
