package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keygate/keygate/auth"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "", wantErr: true},
		{in: "   ", wantErr: true},
		{in: "ada", wantErr: true},
		{in: "@example.com", wantErr: true},
		{in: "ada@", wantErr: true},
		{in: "Ada <ada@example.com>", wantErr: true},
		{in: "<ada@example.com>", wantErr: true},
		{in: "ada@example.com (comment)", wantErr: true},
		{in: `"a b"@example.com`, wantErr: true},
		{in: "a,b@example.com", wantErr: true},
		{in: "ada@exa mple.com", wantErr: true},
		{in: strings.Repeat("a", 250) + "@x.io", wantErr: true},
		{in: "ada@example.com", want: "ada@example.com"},
		{in: "  Ada.Lovelace+keys@Example.COM \n", want: "ada.lovelace+keys@example.com"},
		{in: "root@localhost", want: "root@localhost"},
	}
	for _, tc := range tests {
		got, err := auth.NormalizeEmail(tc.in)
		if tc.wantErr {
			if !errors.Is(err, auth.ErrInvalidEmail) {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want ErrInvalidEmail", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
