package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// ErrMalformedCode is returned by ParseCode for input that is neither a
// TOTP code nor a recovery code.
var ErrMalformedCode = errors.New("auth: malformed one-time code")

// Recovery codes: RecoveryCodes of them per set, each recoveryChars
// characters of lower-case base32 (5 bits each: 120 bits), shown in groups
// of four as "xxxx-xxxx-xxxx-xxxx-xxxx-xxxx". 120 bits is above the 112 at
// which ASVS 6.5.2 lets a lookup secret be stored under a plain hash.
const (
	RecoveryCodes    = 10
	recoveryChars    = 24
	recoveryAlphabet = "abcdefghijklmnopqrstuvwxyz234567"
)

// NewRecoveryCodes returns RecoveryCodes new codes as shown to the user,
// and their hashes (HashRecoveryCode) in the same order, reading
// randomness from r (nil: crypto/rand). It returns r's error wrapped.
func NewRecoveryCodes(r io.Reader) (codes []string, hashes [][]byte, err error) {
	if r == nil {
		r = rand.Reader
	}
	buf := make([]byte, recoveryChars)
	for range RecoveryCodes {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, nil, fmt.Errorf("auth: recovery code: %w", err)
		}
		raw := make([]byte, recoveryChars)
		for i, b := range buf {
			raw[i] = recoveryAlphabet[b&31] // 32 divides 256: uniform
		}
		codes = append(codes, groupsOfFour(raw))
		hashes = append(hashes, HashRecoveryCode(string(raw)))
	}
	return codes, hashes, nil
}

// HashRecoveryCode returns the SHA-256 of a recovery code as ParseCode
// returns it: the only form a code is stored in. A fast hash suffices, as
// for API keys: the code has 120 random bits, so nothing short of 2^120
// guesses finds it from its hash.
func HashRecoveryCode(normalized string) []byte {
	sum := sha256.Sum256([]byte(normalized))
	return sum[:]
}

// groupsOfFour writes code as its groups of four characters joined by '-'.
func groupsOfFour(code []byte) string {
	out := make([]byte, 0, len(code)+len(code)/4)
	for i := 0; i < len(code); i += 4 {
		if i > 0 {
			out = append(out, '-')
		}
		out = append(out, code[i:min(i+4, len(code))]...)
	}
	return string(out)
}
