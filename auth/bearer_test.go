package auth_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/auth"
)

func TestParseBearer(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearer    ", "", false},
		{"Bearerabc", "", false},
		{"Bearer\tabc", "", false},
		{"Basic abc", "", false},
		{"Bear abc", "", false},
		{" Bearer abc", "", false},
		{"Bearer abc def", "", false},
		{"Bearer abc ", "", false},
		{"Bearer abc\t", "", false},
		{"Bearer abc\x00", "", false},
		{"Bearer abc\x7f", "", false},
		{"Bearer abc\r\n", "", false},
		{"Bearer é", "", false},
		{"Token abc", "", false},
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"BeArEr abc", "abc", true},
		{"Bearer    abc", "abc", true},
		{"Bearer a.b-c_d~e+f/g=", "a.b-c_d~e+f/g=", true},
		{"Bearer kg_live_abc", "kg_live_abc", true},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			got, ok := auth.ParseBearer(tc.header)
			if got != tc.want || ok != tc.ok {
				t.Errorf("ParseBearer(%q) = %q, %v; want %q, %v", tc.header, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseBearer_NoAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := auth.ParseBearer("Bearer kg_live_abc"); !ok {
			t.Fatal("not ok")
		}
	})
	if allocs != 0 {
		t.Errorf("ParseBearer allocates %v times per call, want 0", allocs)
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"", "Bearer", "Bearer ", "Bearer abc", "bearer  abc", "Bearer abc def",
		"Bearer\tabc", "Bearer \u00a0", "Bearer abc\n", "Basic dXNlcjpwYXNz", "BEARER x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := auth.ParseBearer(header)
		if !ok {
			if token != "" {
				t.Fatalf("not ok but token %q", token)
			}
			return
		}
		if token == "" || !strings.HasSuffix(header, token) {
			t.Fatalf("ParseBearer(%q) = %q", header, token)
		}
		if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			t.Fatalf("token %q contains whitespace, control or non-ASCII", token)
		}
		if !strings.EqualFold(strings.TrimRight(header[:len(header)-len(token)], " "), "Bearer") {
			t.Fatalf("header %q has no Bearer scheme", header)
		}
	})
}

func BenchmarkParseBearer(b *testing.B) {
	const h = "Bearer kg_live_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := auth.ParseBearer(h); !ok {
			b.Fatal("not ok")
		}
	}
}
