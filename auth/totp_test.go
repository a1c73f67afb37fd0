package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/auth"
)

// rfcSecret is the SHA-1 seed of RFC 6238's test vectors (Appendix B).
var rfcSecret = []byte("12345678901234567890")

// RFC 6238 Appendix B, SHA-1 rows: 8 digits there, and the same value's
// last 6 digits at keygate's length (dynamic truncation is taken mod 10^d).
func TestHOTP_RFC6238Vectors(t *testing.T) {
	tests := []struct {
		unix   int64
		eight  string
		sixDig string
	}{
		{59, "94287082", "287082"},
		{1111111109, "07081804", "081804"},
		{1111111111, "14050471", "050471"},
		{1234567890, "89005924", "005924"},
		{2000000000, "69279037", "279037"},
		{20000000000, "65353130", "353130"},
	}
	for _, tc := range tests {
		at := time.Unix(tc.unix, 0)
		step := uint64(auth.TOTPStep(at))
		if got := auth.HOTP(rfcSecret, step, 8); got != tc.eight {
			t.Errorf("HOTP(%d, 8) = %s, want %s", tc.unix, got, tc.eight)
		}
		if got := auth.TOTPCode(rfcSecret, at); got != tc.sixDig {
			t.Errorf("TOTPCode(%d) = %s, want %s", tc.unix, got, tc.sixDig)
		}
	}
}

// RFC 4226 Appendix D: HOTP of counters 0 to 9.
func TestHOTP_RFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := auth.HOTP(rfcSecret, uint64(i), 6); got != w {
			t.Errorf("HOTP(%d) = %s, want %s", i, got, w)
		}
	}
}

func TestTOTPStep(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		want int64
	}{{0, 0}, {29, 0}, {30, 1}, {59, 1}, {-1, -1}, {-30, -1}, {-31, -2}} {
		if got := auth.TOTPStep(time.Unix(tc.unix, 0)); got != tc.want {
			t.Errorf("TOTPStep(%d) = %d, want %d", tc.unix, got, tc.want)
		}
	}
}

// Codes of the previous, current and next step match, with their step;
// two steps away, or another secret's code, do not.
func TestMatchTOTP(t *testing.T) {
	now := time.Unix(1111111111, 0) // step 37037037, 1 s into it
	step := auth.TOTPStep(now)
	tests := []struct {
		name     string
		at       time.Time
		wantOK   bool
		wantStep int64
	}{
		{"two steps back", now.Add(-2 * auth.TOTPPeriod), false, 0},
		{"two steps ahead", now.Add(2 * auth.TOTPPeriod), false, 0},
		{"previous step", now.Add(-auth.TOTPPeriod), true, step - 1},
		{"current step", now, true, step},
		{"next step", now.Add(auth.TOTPPeriod), true, step + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := auth.TOTPCode(rfcSecret, tc.at)
			got, ok := auth.MatchTOTP(rfcSecret, code, now)
			if ok != tc.wantOK || (ok && got != tc.wantStep) {
				t.Errorf("MatchTOTP = %d, %v; want %d, %v", got, ok, tc.wantStep, tc.wantOK)
			}
		})
	}
	if _, ok := auth.MatchTOTP([]byte("another secret......"), auth.TOTPCode(rfcSecret, now), now); ok {
		t.Error("another secret's code matched")
	}
	if _, ok := auth.MatchTOTP(rfcSecret, "", now); ok {
		t.Error("empty code matched")
	}
}

func TestNewTOTPSecret(t *testing.T) {
	s, err := auth.NewTOTPSecret(&seqReader{})
	if err != nil || len(s) != auth.TOTPSecretBytes {
		t.Fatalf("NewTOTPSecret = %x, %v", s, err)
	}
	if _, err := auth.NewTOTPSecret(failReader{}); err == nil {
		t.Error("a failing random source gave a secret")
	}
	if a, b := mustSecret(t), mustSecret(t); string(a) == string(b) {
		t.Error("two secrets from crypto/rand are equal")
	}
}

func mustSecret(t *testing.T) []byte {
	s, err := auth.NewTOTPSecret(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEncodeTOTPSecret_NoPadding(t *testing.T) {
	if got := auth.EncodeTOTPSecret(rfcSecret); got != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" {
		t.Errorf("EncodeTOTPSecret = %s", got)
	}
	if got := auth.EncodeTOTPSecret([]byte{1}); strings.Contains(got, "=") {
		t.Errorf("EncodeTOTPSecret(1 byte) = %s, has padding", got)
	}
}

func TestTOTPURL(t *testing.T) {
	got := auth.TOTPURL("keygate", "ada+mfa@example.com", rfcSecret)
	want := "otpauth://totp/keygate:ada+mfa@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=keygate&algorithm=SHA1&digits=6&period=30"
	if got != want {
		t.Errorf("TOTPURL =\n%s\nwant\n%s", got, want)
	}
	// Characters with a meaning in a URL are escaped in the label and issuer.
	got = auth.TOTPURL("Key Gate&Co", "a?b#c@example.com", rfcSecret)
	if !strings.HasPrefix(got, "otpauth://totp/Key%20Gate&Co:a%3Fb%23c@example.com?") || !strings.Contains(got, "&issuer=Key+Gate%26Co&") {
		t.Errorf("TOTPURL with special characters = %s", got)
	}
}

func TestParseCode(t *testing.T) {
	tests := []struct {
		in       string
		wantKind auth.CodeKind
		want     string
	}{
		{"", 0, ""},
		{"12345", 0, ""},
		{"1234567", 0, ""},
		{"12345a", 0, ""},
		{"１２３４５６", 0, ""}, // full-width digits
		{"abcd-efgh-ijkl-mnop-qrst-uvw", 0, ""},
		{"abcd-efgh-ijkl-mnop-qrst-uvw1", 0, ""}, // 1 is not base32
		{"abcd-efgh-ijkl-mnop-qrst-uvwx-yz23", 0, ""},
		{"abcd-efgh-ijkl", 0, ""}, // the shorter codes of early builds
		{strings.Repeat(" ", 70) + "123456", 0, ""},
		{"123456", auth.CodeTOTP, "123456"},
		{" 123 456 ", auth.CodeTOTP, "123456"},
		{"123-456", auth.CodeTOTP, "123456"},
		{"abcd-efgh-ijkl-mnop-qrst-uvwx", auth.CodeRecovery, "abcdefghijklmnopqrstuvwx"},
		{"ABCD EFGH IJKL MNOP QRST UV27", auth.CodeRecovery, "abcdefghijklmnopqrstuv27"},
		{"222222222222222222222222", auth.CodeRecovery, "222222222222222222222222"},
	}
	for _, tc := range tests {
		kind, got, err := auth.ParseCode(tc.in)
		if tc.wantKind == 0 {
			if !errors.Is(err, auth.ErrMalformedCode) {
				t.Errorf("ParseCode(%q) = %v, %q, %v; want ErrMalformedCode", tc.in, kind, got, err)
			}
			continue
		}
		if err != nil || kind != tc.wantKind || got != tc.want {
			t.Errorf("ParseCode(%q) = %v, %q, %v; want %v, %q", tc.in, kind, got, err, tc.wantKind, tc.want)
		}
	}
}

// FuzzParseCode: ParseCode never panics, what it accepts is normal (parsing
// it again gives it back), and only the two shapes are accepted.
func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "abcd-efgh-ijkl-mnop-qrst-uvwx", "ABCD EFGH IJKL MNOP QRST UVWX", "", "12345", "ａ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, code, err := auth.ParseCode(s)
		if err != nil {
			if !errors.Is(err, auth.ErrMalformedCode) || code != "" {
				t.Fatalf("ParseCode(%q) = %q, %v", s, code, err)
			}
			return
		}
		switch kind {
		case auth.CodeTOTP:
			if len(code) != auth.TOTPDigits {
				t.Fatalf("TOTP code %q from %q", code, s)
			}
		case auth.CodeRecovery:
			if len(code) != 24 || strings.ToLower(code) != code {
				t.Fatalf("recovery code %q from %q", code, s)
			}
		default:
			t.Fatalf("kind %v from %q", kind, s)
		}
		k2, c2, err := auth.ParseCode(code)
		if err != nil || k2 != kind || c2 != code {
			t.Fatalf("ParseCode(%q) = %v, %q, %v; not idempotent", code, k2, c2, err)
		}
	})
}

func TestNewRecoveryCodes(t *testing.T) {
	codes, hashes, err := auth.NewRecoveryCodes(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != auth.RecoveryCodes || len(hashes) != auth.RecoveryCodes {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 29 || strings.Count(c, "-") != 5 || c[4] != '-' || c[24] != '-' {
			t.Errorf("code %q is not xxxx-xxxx-xxxx-xxxx-xxxx-xxxx", c)
		}
		kind, norm, err := auth.ParseCode(strings.ToUpper(c))
		if err != nil || kind != auth.CodeRecovery {
			t.Fatalf("ParseCode(%q) = %v, %v", c, kind, err)
		}
		if string(auth.HashRecoveryCode(norm)) != string(hashes[i]) {
			t.Errorf("hash %d is not the hash of %q", i, c)
		}
		if seen[c] {
			t.Errorf("code %q repeated", c)
		}
		seen[c] = true
	}
	if _, _, err := auth.NewRecoveryCodes(failReader{}); err == nil {
		t.Error("a failing random source gave codes")
	}
	// Every byte value maps into the alphabet: 255 is the last letter.
	codes, _, err = auth.NewRecoveryCodes(constReader(255))
	if err != nil || codes[0] != "7777-7777-7777-7777-7777-7777" {
		t.Errorf("codes from 0xff = %v, %v", codes, err)
	}
}
