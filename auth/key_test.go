package auth_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/auth"
)

const testPrefix = "kg_live_"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func TestValidateKeyPrefix(t *testing.T) {
	tests := []struct {
		prefix  string
		wantErr bool
	}{
		{"", true},
		{"kg-live", true},
		{"kg live", true},
		{"kg.", true},
		{"ké_", true},
		{strings.Repeat("a", 17), true},
		{"k", false},
		{testPrefix, false},
		{"AZaz09_", false},
		{strings.Repeat("a", 16), false},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			if err := auth.ValidateKeyPrefix(tc.prefix); (err != nil) != tc.wantErr {
				t.Errorf("ValidateKeyPrefix(%q) = %v, wantErr %v", tc.prefix, err, tc.wantErr)
			}
		})
	}
}

func TestNewKey_Deterministic(t *testing.T) {
	raw, hash, display, err := auth.NewKey(testPrefix, &seqReader{})
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	// Bytes 0..42 map straight onto the alphabet.
	if want := testPrefix + base62[:auth.KeyRandomLen]; raw != want {
		t.Errorf("raw = %q, want %q", raw, want)
	}
	if display != raw[:auth.DisplayLen] {
		t.Errorf("display = %q, want %q", display, raw[:auth.DisplayLen])
	}
	if hash != auth.HashKey(raw) {
		t.Error("hash != HashKey(raw)")
	}
	got, err := auth.ParseKey(testPrefix, raw)
	if err != nil || got != hash {
		t.Errorf("ParseKey(raw) = %x, %v; want %x, nil", got, err, hash)
	}
}

func TestNewKey_Rejection(t *testing.T) {
	// Bytes 248..255 must be skipped, not folded onto the alphabet: starting
	// at 240, the accepted bytes are 240..247 then 0..34.
	raw, _, _, err := auth.NewKey("k", &seqReader{next: 240})
	if err != nil {
		t.Fatal(err)
	}
	want := "k" + base62[54:] + base62[:35] // 240%62 = 54
	if raw != want {
		t.Errorf("raw = %q, want %q", raw, want)
	}
}

func TestNewKey_Errors(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		r      interface{ Read([]byte) (int, error) }
	}{
		{"bad prefix", "kg-", nil},
		{"failing reader", testPrefix, failReader{}},
		{"reader only yields rejected bytes", testPrefix, constReader(0xff)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if raw, _, _, err := auth.NewKey(tc.prefix, tc.r); err == nil {
				t.Fatalf("NewKey = %q, nil; want an error", raw)
			}
		})
	}
}

func TestNewKey_Distribution(t *testing.T) {
	const keys = 300 // 12,900 characters, about 208 per symbol
	counts := map[byte]int{}
	for range keys {
		raw, _, _, err := auth.NewKey(testPrefix, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(testPrefix); i < len(raw); i++ {
			counts[raw[i]]++
		}
	}
	if len(counts) != len(base62) {
		t.Fatalf("%d distinct characters, want %d", len(counts), len(base62))
	}
	for c, n := range counts {
		// Loose bounds: a biased generator (say b%62 on all 256 bytes gives
		// +33% to the first 8 symbols) or a broken one falls far outside.
		if n < 100 || n > 330 {
			t.Errorf("character %q appeared %d times, expected about 208", c, n)
		}
	}
}

func TestParseKey(t *testing.T) {
	valid, _, _, err := auth.NewKey(testPrefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	random := valid[len(testPrefix):]
	tests := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"empty", "", false},
		{"prefix only", testPrefix, false},
		{"wrong prefix", "kg_test_" + random, false},
		{"no prefix", random, false},
		{"prefix case", "KG_LIVE_" + random, false},
		{"short", valid[:len(valid)-1], false},
		{"long", valid + "a", false},
		{"bad alphabet: dash", testPrefix + "-" + random[1:], false},
		{"bad alphabet: underscore", testPrefix + random[1:] + "_", false},
		{"bad alphabet: space", testPrefix + random[:20] + " " + random[21:], false},
		{"bad alphabet: non-ASCII", testPrefix + "é" + random[2:], false},
		{"bad alphabet: NUL", testPrefix + "\x00" + random[1:], false},
		{"valid", valid, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := auth.ParseKey(testPrefix, tc.raw)
			if tc.ok {
				if err != nil || h != auth.HashKey(tc.raw) {
					t.Fatalf("ParseKey = %x, %v; want HashKey(raw), nil", h, err)
				}
				return
			}
			if err != auth.ErrMalformedKey || h != (auth.KeyHash{}) {
				t.Fatalf("ParseKey = %x, %v; want zero, ErrMalformedKey", h, err)
			}
		})
	}
}

func TestParseKey_NoAllocs(t *testing.T) {
	raw, _, _, err := auth.NewKey(testPrefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := auth.ParseKey(testPrefix, raw); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseKey allocates %v times per call, want 0", allocs)
	}
}

func FuzzParseKey(f *testing.F) {
	valid, _, _, err := auth.NewKey(testPrefix, &seqReader{})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", testPrefix, valid, valid + "x", valid[:len(valid)-1],
		"kg_test_" + valid[8:], testPrefix + strings.Repeat("é", 21) + "a", testPrefix + strings.Repeat("\xff", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		h, err := auth.ParseKey(testPrefix, raw)
		if err != nil {
			if err != auth.ErrMalformedKey {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !strings.HasPrefix(raw, testPrefix) || len(raw) != len(testPrefix)+auth.KeyRandomLen {
			t.Fatalf("accepted %q", raw)
		}
		if strings.Trim(raw[len(testPrefix):], base62) != "" {
			t.Fatalf("accepted non-base62 %q", raw)
		}
		if h != auth.HashKey(raw) {
			t.Fatalf("hash mismatch for %q", raw)
		}
	})
}

func BenchmarkParseKey(b *testing.B) {
	raw, _, _, err := auth.NewKey(testPrefix, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.ParseKey(testPrefix, raw); err != nil {
			b.Fatal(err)
		}
	}
}
