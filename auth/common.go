package auth

import (
	_ "embed" // for the list of common passwords
	"errors"
	"sort"
	"strings"
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
