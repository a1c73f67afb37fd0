package auth

import (
	_ "embed" // for the list of common passwords
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// ErrCommonPassword is returned by Hasher.Hash for a password on the list
// of common passwords: the first a guesser tries (ASVS 6.2.4, 6.2.12).
var ErrCommonPassword = errors.New("auth: password is one of the most common; choose another")

// commonPasswordList holds the 10,000 most common passwords of 8 to 72
// bytes, lower-cased and sorted, one a line. It is taken from the password
// frequency list of zxcvbn 4.4.2 (MIT licence, Copyright (c) 2012-2016 Dan
// Wheeler and Dropbox, Inc.), which ranks passwords seen in public leaks.
//
//go:embed common_passwords.txt
var commonPasswordList string

// commonPasswords is a sorted list to search, made once per Hasher.
type commonPasswords []string

func newCommonPasswords() commonPasswords {
	return strings.Split(strings.TrimSpace(commonPasswordList), "\n")
}

// contains reports whether p, compared without case, is on the list.
func (c commonPasswords) contains(p string) bool {
	p = strings.ToLower(p)
	i := sort.SearchStrings(c, p)
	return i < len(c) && c[i] == p
}

// MinPasswordChars is the least number of characters (Unicode code points,
// not bytes) of a new password: eight bytes of a multi-byte script can be
// as few as two characters (ASVS 6.2.1).
const MinPasswordChars = 8

// ErrPasswordTooFewChars is returned by ValidateNewPassword for a password
// of fewer than MinPasswordChars characters.
var ErrPasswordTooFewChars = errors.New("auth: password must be at least 8 characters")

// ValidateNewPassword checks a password about to be set: the byte limits
// of ValidatePassword (its errors as is), then at least MinPasswordChars
// characters (ErrPasswordTooFewChars). Existing passwords are checked with
// ValidatePassword alone, so none stops working.
func ValidateNewPassword(p string) error {
	if err := ValidatePassword(p); err != nil {
		return err
	}
	if utf8.RuneCountInString(p) < MinPasswordChars {
		return ErrPasswordTooFewChars
	}
	return nil
}

// minContextWord is the shortest context word looked for: shorter ones
// ("io", "com") would refuse too many good passwords.
const minContextWord = 4

// ContextWordError is returned by CheckContextWords for a password that
// contains a word from its context.
type ContextWordError struct {
	Word      string // the word found, lower-cased
	FromEmail bool   // whether it came from the email address
}

func (e *ContextWordError) Error() string {
	return fmt.Sprintf("auth: password contains %q", e.Word)
}

// CheckContextWords returns a *ContextWordError if password contains,
// compared without case, one of words (the service's name, its API key
// prefix, its token issuer: whatever a guesser tries first against this
// service) or a part of email: its local part or any label of its domain
// (ASVS 6.2.11). Words shorter than 4 bytes are not looked for. It
// returns nil otherwise.
func CheckContextWords(password, email string, words ...string) error {
	p := strings.ToLower(password)
	for _, w := range words {
		if w = strings.ToLower(w); len(w) >= minContextWord && strings.Contains(p, w) {
			return &ContextWordError{Word: w}
		}
	}
	local, domain, _ := strings.Cut(strings.ToLower(email), "@")
	for _, w := range append([]string{local}, strings.Split(domain, ".")...) {
		if len(w) >= minContextWord && strings.Contains(p, w) {
			return &ContextWordError{Word: w, FromEmail: true}
		}
	}
	return nil
}
