package auth

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Sentinel errors returned by this package. Compare with errors.Is.
var (
	// ErrInvalidCredentials is returned by Hasher.Check when the password does
	// not match the hash, or when there is no hash (unknown user).
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
	// ErrPasswordTooShort is returned by ValidatePassword, Hasher.Hash and
	// Hasher.Check for passwords shorter than MinPasswordBytes.
	ErrPasswordTooShort = errors.New("auth: password must be at least 8 bytes")
	// ErrPasswordTooLong is returned by ValidatePassword, Hasher.Hash and
	// Hasher.Check for passwords longer than MaxPasswordBytes.
	ErrPasswordTooLong = errors.New("auth: password must be at most 72 bytes")
	// ErrInvalidToken is returned (possibly wrapped) by Tokens.Verify for a
	// token that is malformed, badly signed, signed with any algorithm other
	// than HS256 (including none), issued by another issuer or in the future,
	// missing exp or sub, of the wrong type, or a refresh token without jti.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrTokenExpired is returned by Tokens.Verify for a token that would be
	// valid except that its exp is not after the current time.
	ErrTokenExpired = errors.New("auth: token expired")
	// ErrMalformedKey is returned by ParseKey when the raw key does not have
	// the expected prefix, length or alphabet.
	ErrMalformedKey = errors.New("auth: malformed api key")
)

// Password length limits, in bytes (not runes).
const (
	MinPasswordBytes = 8
	// MaxPasswordBytes is bcrypt's limit: bcrypt ignores every byte after the
	// 72nd, so longer passwords are refused, never truncated.
	MaxPasswordBytes = 72
)

// dummyPassword is hashed once by NewHasher so that Check can spend the same
// time on unknown users as on known ones.
const dummyPassword = "keygate-dummy-password"

// ValidatePassword checks the length of p in bytes. It returns
// ErrPasswordTooShort below MinPasswordBytes, ErrPasswordTooLong above
// MaxPasswordBytes, and nil otherwise. Multi-byte UTF-8 characters count as
// several bytes.
func ValidatePassword(p string) error {
	switch {
	case len(p) < MinPasswordBytes:
		return ErrPasswordTooShort
	case len(p) > MaxPasswordBytes:
		return ErrPasswordTooLong
	}
	return nil
}

// Hasher hashes and checks passwords with bcrypt at a fixed cost. Create it
// with NewHasher; the zero value is not usable. It is safe for concurrent use.
type Hasher struct {
	cost   int
	dummy  []byte          // bcrypt hash of dummyPassword at cost; never modified
	common commonPasswords // refused by Hash; never modified

	breached *BreachedList // the operator's list, also refused; nil: none
}

// WithBreachedList returns a copy of h whose Hash also refuses the
// passwords on l, with ErrBreachedPassword; nil: none. h is unchanged.
func (h *Hasher) WithBreachedList(l *BreachedList) *Hasher {
	c := *h
	c.breached = l
	return &c
}

// NewHasher returns a Hasher for the given bcrypt cost, which must be in
// [bcrypt.MinCost, bcrypt.MaxCost]; otherwise it returns an error. It computes
// one dummy hash at that cost, so it takes as long as one Hash call.
func NewHasher(cost int) (*Hasher, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("auth: bcrypt cost %d outside [%d, %d]", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte(dummyPassword), cost)
	if err != nil {
		return nil, fmt.Errorf("auth: computing dummy hash: %w", err)
	}
	return &Hasher{cost: cost, dummy: dummy, common: newCommonPasswords()}, nil
}

// Hash returns the bcrypt hash of a new password. It returns the error of
// ValidatePassword for a password of the wrong length, ErrCommonPassword
// for one of the most common passwords, ErrBreachedPassword for one on the
// breached-password list (WithBreachedList), or a wrapped error if bcrypt fails
// (for example when the system random source fails). Check does not look
// at the list: a password set before it grew still logs in.
func (h *Hasher) Hash(password string) ([]byte, error) {
	if err := ValidatePassword(password); err != nil {
		return nil, err
	}
	if h.common.contains(password) {
		return nil, ErrCommonPassword
	}
	if h.breached.Contains(password) {
		return nil, ErrBreachedPassword
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), h.cost)
	if err != nil {
		return nil, fmt.Errorf("auth: hashing password: %w", err)
	}
	return hash, nil
}

// Check reports whether password matches hash, returning nil on a match.
//
// It returns the error of ValidatePassword as is for a password of the wrong
// length. An empty or nil hash means an unknown user: the password is compared
// against a dummy hash so the call takes as long as a real check, then
// ErrInvalidCredentials is returned. A mismatch returns
// ErrInvalidCredentials. A hash that is not a bcrypt hash returns a wrapped
// bcrypt error (an internal error, not a client one).
func (h *Hasher) Check(hash []byte, password string) error {
	if err := ValidatePassword(password); err != nil {
		return err
	}
	if len(hash) == 0 {
		// The result is irrelevant; the comparison only equalizes timing.
		_ = bcrypt.CompareHashAndPassword(h.dummy, []byte(password))
		return ErrInvalidCredentials
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return ErrInvalidCredentials
	default:
		return fmt.Errorf("auth: checking password: %w", err)
	}
}
