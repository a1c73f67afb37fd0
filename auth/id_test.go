package auth_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/auth"
)

func TestNewID(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		r      interface{ Read([]byte) (int, error) }
		want   string // "" means only check the shape
	}{
		{"deterministic", "usr_", &seqReader{}, "usr_" + base62[:20]},
		{"empty prefix", "", &seqReader{}, base62[:20]},
		{"crypto rand", "ses_", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := auth.NewID(tc.prefix, tc.r)
			if err != nil {
				t.Fatalf("NewID: %v", err)
			}
			if tc.want != "" && id != tc.want {
				t.Errorf("NewID = %q, want %q", id, tc.want)
			}
			rest, ok := strings.CutPrefix(id, tc.prefix)
			if !ok || len(rest) != 20 || strings.Trim(rest, base62) != "" {
				t.Errorf("NewID = %q: want %q + 20 base62 characters", id, tc.prefix)
			}
		})
	}
}

func TestNewID_Errors(t *testing.T) {
	for _, r := range []interface{ Read([]byte) (int, error) }{failReader{}, constReader(0xf8)} {
		if id, err := auth.NewID("usr_", r); err == nil {
			t.Errorf("NewID with %T = %q, nil; want an error", r, id)
		}
	}
}

func TestNewID_Unique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, err := auth.NewID("key_", nil)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}
