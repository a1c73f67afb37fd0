package auth

import (
	"errors"
	"net/mail"
	"strings"
)

// ErrInvalidEmail is returned by NormalizeEmail for anything that is not a
// plain address like "ada@example.com".
var ErrInvalidEmail = errors.New("auth: invalid email address")

// MaxEmailBytes is the longest address accepted (RFC 5321's path limit).
const MaxEmailBytes = 254

// NormalizeEmail trims and lower-cases an email address and checks that it
// is a bare address with a local part and a domain: no display name, no
// angle brackets, no comments. Two spellings of one address normalise to
// the same string, so they cannot register twice. It returns
// ErrInvalidEmail otherwise.
func NormalizeEmail(s string) (string, error) {
	email := strings.ToLower(strings.TrimSpace(s))
	if email == "" || len(email) > MaxEmailBytes {
		return "", ErrInvalidEmail
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return "", ErrInvalidEmail
	}
	at := strings.LastIndexByte(email, '@')
	if at < 1 || at == len(email)-1 || strings.ContainsAny(email, "\"()<>[]\\,;: ") {
		return "", ErrInvalidEmail
	}
	return email, nil
}
