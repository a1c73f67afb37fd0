package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"unsafe"
)

// KeyRandomLen is the number of random base62 characters after the prefix of
// an API key: 43*log2(62) ≈ 256.03 bits of randomness.
const KeyRandomLen = 43

// DisplayLen is the length of an API key's display prefix: the first
// DisplayLen characters of the raw key. With a prefix of DisplayLen
// characters or more, the display prefix holds no random characters.
const DisplayLen = 12

// maxKeyPrefixLen is the longest API key prefix ValidateKeyPrefix accepts.
const maxKeyPrefixLen = 16

// KeyHash is the SHA-256 of a whole raw API key, prefix included. It is what
// gets stored and looked up; the raw key never is. The zero value matches no
// key in practice.
type KeyHash [32]byte

// ValidateKeyPrefix returns an error unless prefix is 1 to 16
// characters of [A-Za-z0-9_].
func ValidateKeyPrefix(prefix string) error {
	if len(prefix) == 0 || len(prefix) > maxKeyPrefixLen {
		return fmt.Errorf("auth: api key prefix %q must be 1 to %d characters long", prefix, maxKeyPrefixLen)
	}
	for i := 0; i < len(prefix); i++ {
		if c := prefix[i]; c != '_' && !isBase62(c) {
			return fmt.Errorf("auth: api key prefix %q may only contain A-Z, a-z, 0-9 and _", prefix)
		}
	}
	return nil
}

// NewKey generates a raw API key: prefix followed by KeyRandomLen uniformly
// random base62 characters read from r (nil means crypto/rand.Reader). It
// returns the raw key, to be shown once, its hash and its display prefix (the
// first DisplayLen characters). It returns the error of ValidateKeyPrefix for
// a bad prefix, or an error if r fails. NewKey is safe for concurrent use if
// r is.
func NewKey(prefix string, r io.Reader) (raw string, hash KeyHash, display string, err error) {
	if err := ValidateKeyPrefix(prefix); err != nil {
		return "", KeyHash{}, "", err
	}
	buf := make([]byte, len(prefix)+KeyRandomLen)
	copy(buf, prefix)
	if err := fillBase62(buf[len(prefix):], r); err != nil {
		return "", KeyHash{}, "", err
	}
	raw = string(buf)
	return raw, HashKey(raw), raw[:min(DisplayLen, len(raw))], nil
}

// ParseKey checks that raw is prefix followed by exactly KeyRandomLen
// characters of [0-9A-Za-z] and returns its hash. Anything else returns
// ErrMalformedKey. It does not allocate and is safe for concurrent use.
func ParseKey(prefix, raw string) (KeyHash, error) {
	if len(raw) != len(prefix)+KeyRandomLen || raw[:len(prefix)] != prefix {
		return KeyHash{}, ErrMalformedKey
	}
	for i := len(prefix); i < len(raw); i++ {
		if !isBase62(raw[i]) {
			return KeyHash{}, ErrMalformedKey
		}
	}
	return HashKey(raw), nil
}

// HashKey returns the SHA-256 of raw without validating it. It does not
// allocate and is safe for concurrent use.
func HashKey(raw string) KeyHash {
	// sha256.Sum256([]byte(raw)) allocates once per call: the conversion
	// does not escape, but the compiler's stack buffer for it is only 32
	// bytes and keys are longer (checked with -gcflags=-m and AllocsPerRun,
	// Go 1.26). Viewing the string's bytes in place is safe because Sum256
	// only reads its input and neither retains nor modifies it, so the
	// string's immutability is preserved.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
}

// isBase62 reports whether c is in [0-9A-Za-z].
func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// rejectFrom is the smallest byte value fillBase62 rejects: 248 = 4*62, so
// b%62 is uniform over the accepted bytes [0, 248).
const rejectFrom = 4 * len(base62Alphabet)

// maxRandReads bounds the reads of fillBase62 so a broken reader that only
// returns rejected bytes yields an error rather than a hang. With a real
// random source the chance of needing more than a few reads is negligible.
const maxRandReads = 64

// fillBase62 fills dst with uniformly random characters of base62Alphabet,
// using bytes from r (nil means crypto/rand.Reader) by rejection sampling.
func fillBase62(dst []byte, r io.Reader) error {
	if r == nil {
		r = rand.Reader
	}
	var buf [64]byte
	n := 0
	for reads := 0; n < len(dst); reads++ {
		if reads == maxRandReads {
			return fmt.Errorf("auth: random source gave %d reads of unusable bytes", maxRandReads)
		}
		chunk := buf[:min(len(dst)-n, len(buf))]
		if _, err := io.ReadFull(r, chunk); err != nil {
			return fmt.Errorf("auth: reading random source: %w", err)
		}
		for _, b := range chunk {
			if int(b) < rejectFrom {
				dst[n] = base62Alphabet[int(b)%len(base62Alphabet)]
				n++
			}
		}
	}
	return nil
}
