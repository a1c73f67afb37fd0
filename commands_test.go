package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/auth"
)

// keygate user create applies the server's rules to a new password: 8
// characters (ASVS 6.2.1), no word of the service or the email (6.2.11)
// and, when configured, none on the breached list (6.2.12).
func TestCreateUser_PasswordRules(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "breached.txt")
	if err := os.WriteFile(list, []byte("lettuce-sandwich-42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf("db_path = %q\n[passwords]\nbcrypt_cost = 4\nbreached_list = %q\n[jwt]\nissuer = \"northwind-auth\"\n",
		filepath.Join(dir, "keygate.db"), list)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, email, password, wantErr string
	}{
		{"5 characters in 10 bytes", "ada@example.com", "ééééé", "8 characters"},
		{"the key prefix", "ada@example.com", "my KG_LIVE_ pass", `"kg_live_"`},
		{"the issuer", "ada@example.com", "Northwind-Auth-2026", `"northwind-auth"`},
		{"the service's name", "ada@example.com", "keygate-admin-1", `"keygate"`},
		{"a label of the email's domain", "ada@contoso.io", "contoso-rocks-9", `"contoso"`},
		{"on the breached list", "ada@example.com", "lettuce-sandwich-42", "breached"},
		{"ok", "ada@example.com", "correct horse battery", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := createUser(context.Background(), []string{"-config", config, "-email", tc.email},
				strings.NewReader(tc.password+"\n"), &out, noEnv)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("createUser: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("createUser = %v, want an error with %s", err, tc.wantErr)
			}
		})
	}
}

// A breached list that cannot be read stops the start, naming the setting.
func TestNewHasher_BreachedList(t *testing.T) {
	cfg := defaultConfig()
	cfg.Passwords.BcryptCost = 4
	cfg.Passwords.BreachedList = filepath.Join(t.TempDir(), "missing.txt")
	if _, err := newHasher(cfg); err == nil || !strings.Contains(err.Error(), "passwords.breached_list") {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(t.TempDir(), "list.txt")
	sum := sha1.Sum([]byte("lettuce-sandwich-42"))
	if err := os.WriteFile(path, []byte(strings.ToUpper(hex.EncodeToString(sum[:]))+":12\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Passwords.BreachedList = path
	h, err := newHasher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Hash("lettuce-sandwich-42"); !errors.Is(err, auth.ErrBreachedPassword) {
		t.Errorf("Hash(on the list) = %v", err)
	}
	if _, err := h.Hash("correct horse battery"); err != nil {
		t.Errorf("Hash(other) = %v", err)
	}
}
