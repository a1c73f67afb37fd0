package storage

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/keygate/keygate/internal/offheap"
)

// sortEntries orders keys exactly as bytes.Compare does, whatever prefix
// they share and however short they are (issue 6: it compares words first).
func TestSortEntries_MatchesBytesOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	prefixes := []string{"", "2026-11-26/key_", "2026-11-2", "key_"}
	for _, prefix := range prefixes {
		// Few keys sort by comparison; many are spread into buckets first,
		// which hold a few keys of 62 characters, or many of 5.
		for _, tc := range []struct {
			n        int
			alphabet string
		}{{2000, "\x00ab\xffz"}, {20000, "\x00ab\xffz"}, {50000, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}} {
			checkSortEntries(t, r, prefix, tc.n, tc.alphabet)
		}
	}
}

func checkSortEntries(t *testing.T, r *rand.Rand, prefix string, n int, alphabet string) {
	t.Helper()
	var es []entry
	var names []byte
	for range n {
		k := []byte(prefix)
		for range r.IntN(12) {
			k = append(k, alphabet[r.IntN(len(alphabet))])
		}
		es = append(es, entry{at: uint32(len(names)), size: uint32(len(k))})
		names = append(names, k...)
	}
	want := make([][]byte, len(es))
	for i, e := range es {
		want[i] = e.key(names)
	}
	slices.SortFunc(want, bytes.Compare)
	s := flushScratch{mem: new(offheap.Arena)}
	defer s.mem.ReleaseAll()
	s.sortEntries(es, names)
	for i := range es {
		if !bytes.Equal(es[i].key(names), want[i]) {
			t.Fatalf("prefix %q, %d keys: at %d got %q, want %q", prefix, n, i, es[i].key(names), want[i])
		}
	}
}
