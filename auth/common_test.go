package auth_test

import (
	"errors"
	"testing"

	"github.com/keygate/keygate/auth"
	"golang.org/x/crypto/bcrypt"
)

// The most common passwords are refused for new passwords, whatever their
// case; an uncommon one is hashed (ASVS 6.2.4).
func TestHasher_Hash_CommonPasswords(t *testing.T) {
	h, err := auth.NewHasher(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"password", "12345678", "PassWord", "baseball", "football", "iloveyou", "qwertyuiop", "1234567890"} {
		if _, err := h.Hash(p); !errors.Is(err, auth.ErrCommonPassword) {
			t.Errorf("Hash(%q) = %v, want ErrCommonPassword", p, err)
		}
	}
	for _, p := range []string{"correct horse battery", "v3ry-uncommon-7Qx"} {
		if _, err := h.Hash(p); err != nil {
			t.Errorf("Hash(%q) = %v", p, err)
		}
	}
}
