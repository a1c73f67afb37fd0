package auth_test

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/keygate/keygate/auth"
	"golang.org/x/crypto/bcrypt"
)

func sha1Upper(p string) string {
	sum := sha1.Sum([]byte(p))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// A list may hold passwords as they are and HIBP-style "SHA1:count" or
// bare SHA-1 lines; each is recognised by its shape (ASVS 6.2.12).
func TestReadBreachedList(t *testing.T) {
	list := "Tr0ub4dor&3\r\n" +
		"\n" +
		sha1Upper("hunter2hunter2") + ":4127\n" +
		sha1Upper("lettuce-sandwich") + "\n" +
		strings.ToLower(sha1Upper("lower-hex-is-a-password")) + "\n" +
		"Tr0ub4dor&3\n" // a duplicate
	l, err := auth.ReadBreachedList(strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 4 {
		t.Errorf("Len = %d, want 4", l.Len())
	}
	for p, want := range map[string]bool{
		"Tr0ub4dor&3":             true,
		"tr0ub4dor&3":             false, // exact, case included
		"hunter2hunter2":          true,
		"lettuce-sandwich":        true,
		"lower-hex-is-a-password": false, // that line was a plain password
		strings.ToLower(sha1Upper("lower-hex-is-a-password")): true,
		"correct horse battery":                               false,
		"":                                                    false,
	} {
		if got := l.Contains(p); got != want {
			t.Errorf("Contains(%q) = %v, want %v", p, got, want)
		}
	}
	var none *auth.BreachedList
	if none.Contains("Tr0ub4dor&3") || none.Len() != 0 {
		t.Error("a nil list is not empty")
	}
}

func TestReadBreachedList_LongLine(t *testing.T) {
	_, err := auth.ReadBreachedList(strings.NewReader("ok\n" + strings.Repeat("x", 5000) + "\n"))
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("err = %v", err)
	}
}

func TestHasher_WithBreachedList(t *testing.T) {
	h, err := auth.NewHasher(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	l, err := auth.ReadBreachedList(strings.NewReader(sha1Upper("lettuce-sandwich") + ":12\n"))
	if err != nil {
		t.Fatal(err)
	}
	hb := h.WithBreachedList(l)
	if _, err := hb.Hash("lettuce-sandwich"); !errors.Is(err, auth.ErrBreachedPassword) || !errors.Is(err, auth.ErrCommonPassword) {
		t.Errorf("Hash(breached) = %v, want ErrBreachedPassword wrapping ErrCommonPassword", err)
	}
	if _, err := hb.Hash("v3ry-uncommon-7Qx"); err != nil {
		t.Errorf("Hash(other) = %v", err)
	}
	if _, err := h.Hash("lettuce-sandwich"); err != nil {
		t.Errorf("the original Hasher changed: %v", err)
	}
}

// 8 bytes are not always 8 characters (ASVS 6.2.1).
func TestValidateNewPassword(t *testing.T) {
	for p, want := range map[string]error{
		"abcdefgh":              nil,
		"ééééé":                 auth.ErrPasswordTooFewChars, // 10 bytes, 5 characters
		"日本語のパス":                auth.ErrPasswordTooFewChars, // 18 bytes, 6 characters
		"日本語のパスワード":             nil,
		"abcdefg":               auth.ErrPasswordTooShort,
		strings.Repeat("a", 73): auth.ErrPasswordTooLong,
	} {
		if err := auth.ValidateNewPassword(p); !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("ValidateNewPassword(%q) = %v, want %v", p, err, want)
		}
	}
}

func TestCheckContextWords(t *testing.T) {
	tests := []struct {
		password, email string
		wantWord        string
		fromEmail       bool
	}{
		{"my KG_LIVE_ secret", "ada@example.com", "kg_live_", false},
		{"issuer-Acme-Auth!", "ada@example.com", "acme-auth", false},
		{"KeyGate rocks 42", "ada@example.com", "keygate", false},
		{"adalovelace-99", "adalovelace@example.com", "adalovelace", true},
		{"my EXAMPLE pass", "ada@example.com", "example", true},
		{"big-corp-password", "ada@mail.corp.io", "corp", true},
		{"zzz io com ada zz", "ada@x.io", "", false}, // words under 4 bytes are not looked for
		{"correct horse battery", "ada@example.com", "", false},
	}
	for _, tc := range tests {
		err := auth.CheckContextWords(tc.password, tc.email, "keygate", "kg_live_", "acme-auth", "kg")
		var cw *auth.ContextWordError
		if tc.wantWord == "" {
			if err != nil {
				t.Errorf("%q: %v, want nil", tc.password, err)
			}
			continue
		}
		if !errors.As(err, &cw) || cw.Word != tc.wantWord || cw.FromEmail != tc.fromEmail {
			t.Errorf("%q with %s: %v (%+v), want %q fromEmail=%v", tc.password, tc.email, err, cw, tc.wantWord, tc.fromEmail)
		}
	}
}
