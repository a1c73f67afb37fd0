package auth

import "io"

// idRandomLen is the number of random base62 characters in an ID made by
// NewID (about 119 bits).
const idRandomLen = 20

// NewID returns an opaque, URL-safe, random ID: prefix (such as "usr_",
// "key_" or "ses_", used as is) followed by 20 uniformly random
// base62 characters read from r (nil means crypto/rand.Reader). It returns an
// error only if r fails. It is safe for concurrent use if r is.
func NewID(prefix string, r io.Reader) (string, error) {
	buf := make([]byte, len(prefix)+idRandomLen)
	copy(buf, prefix)
	if err := fillBase62(buf[len(prefix):], r); err != nil {
		return "", err
	}
	return string(buf), nil
}
