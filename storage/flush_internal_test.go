package storage

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// sortEntries orders keys exactly as bytes.Compare does, whatever prefix
// they share and however short they are (issue 6: it compares words first).
func TestSortEntries_MatchesBytesOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	prefixes := []string{"", "2026-11-26/key_", "2026-11-2", "key_"}
	for _, prefix := range prefixes {
		var es []entry
		for range 2000 {
			k := []byte(prefix)
			for range r.IntN(12) {
				k = append(k, "\x00ab\xffz"[r.IntN(5)])
			}
			es = append(es, entry{key: k})
		}
		want := make([][]byte, len(es))
		for i, e := range es {
			want[i] = e.key
		}
		slices.SortFunc(want, bytes.Compare)
		sortEntries(es)
		for i := range es {
			if !bytes.Equal(es[i].key, want[i]) {
				t.Fatalf("prefix %q: at %d got %q, want %q", prefix, i, es[i].key, want[i])
			}
		}
	}
}
