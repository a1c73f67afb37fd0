package auth

import (
	"bufio"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
)

// ErrBreachedPassword is returned by Hasher.Hash for a password on the
// operator's breached-password list. It wraps ErrCommonPassword, so a
// caller that refuses common passwords refuses these alike (ASVS 6.2.12).
var ErrBreachedPassword = fmt.Errorf("%w (it is on the breached-password list)", ErrCommonPassword)

// BreachedList is a set of passwords known from breaches, held as the
// first 64 bits of each one's SHA-1: 8 bytes an entry whatever the
// password's length, and never the password itself. Two passwords whose
// SHA-1s share 64 bits are confused; with a billion entries a given
// password is wrongly refused with odds of about 1 in 10^10. A nil
// *BreachedList is empty. It is safe for concurrent use: it never changes
// once made.
type BreachedList struct {
	prefixes []uint64 // sorted, without duplicates
}

// maxBreachedLine bounds a line of the list; longer lines are an error.
const maxBreachedLine = 4096

// ReadBreachedList reads a list with one entry a line: either a password
// as it is, or its SHA-1 in upper-case hex (40 characters), optionally
// followed by ":count" as in the Have I Been Pwned download. Each line is
// classified by its shape, so the two may be mixed. Empty lines and line
// endings ("\n" or "\r\n") are ignored; passwords are compared exactly, case
// included. It returns an error naming the line for a line longer than 4096
// bytes, or r's error.
func ReadBreachedList(r io.Reader) (*BreachedList, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxBreachedLine)
	var prefixes []uint64
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			continue
		}
		prefixes = append(prefixes, breachedPrefix(line))
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("auth: breached list: a line is longer than %d bytes", maxBreachedLine)
	} else if err != nil {
		return nil, fmt.Errorf("auth: breached list: %w", err)
	}
	slices.Sort(prefixes)
	return &BreachedList{prefixes: slices.Compact(prefixes)}, nil
}

// breachedPrefix is the 64-bit prefix of the SHA-1 a line stands for.
func breachedPrefix(line []byte) uint64 {
	if h, ok := sha1Line(line); ok {
		return binary.BigEndian.Uint64(h)
	}
	sum := sha1.Sum(line)
	return binary.BigEndian.Uint64(sum[:8])
}

// sha1Line decodes a line shaped like "HEX40" or "HEX40:count", upper-case.
func sha1Line(line []byte) ([]byte, bool) {
	if len(line) < 40 || (len(line) > 40 && line[40] != ':') {
		return nil, false
	}
	for _, c := range line[:40] {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return nil, false
		}
	}
	for _, c := range line[min(len(line), 41):] {
		if c < '0' || c > '9' {
			return nil, false
		}
	}
	h := make([]byte, 20)
	if _, err := hex.Decode(h, line[:40]); err != nil {
		return nil, false
	}
	return h, true
}

// Len returns the number of distinct entries.
func (l *BreachedList) Len() int {
	if l == nil {
		return 0
	}
	return len(l.prefixes)
}

// Contains reports whether password is on the list, exactly as written.
func (l *BreachedList) Contains(password string) bool {
	if l == nil {
		return false
	}
	sum := sha1.Sum([]byte(password))
	_, found := slices.BinarySearch(l.prefixes, binary.BigEndian.Uint64(sum[:8]))
	return found
}
