package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// TOTP parameters (RFC 6238), fixed for keygate: authenticator apps assume
// them, and the otpauth URL states them anyway.
const (
	// TOTPDigits is the length of a code.
	TOTPDigits = 6
	// TOTPPeriod is how long one time step lasts.
	TOTPPeriod = 30 * time.Second
	// TOTPSecretBytes is the size of a new secret: 160 bits, the size of
	// an HMAC-SHA-1 block's key RFC 4226 recommends.
	TOTPSecretBytes = 20
	// TOTPSkew is how many steps either side of now a code may come from,
	// for clocks that drift and users who type slowly.
	TOTPSkew = 1
)

// base32NoPad is the encoding of TOTP secrets: RFC 4648 base32 without
// padding, as otpauth URLs carry it.
var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns TOTPSecretBytes bytes read from r (nil:
// crypto/rand), or r's error wrapped.
func NewTOTPSecret(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	secret := make([]byte, TOTPSecretBytes)
	if _, err := io.ReadFull(r, secret); err != nil {
		return nil, fmt.Errorf("auth: totp secret: %w", err)
	}
	return secret, nil
}

// EncodeTOTPSecret returns secret as authenticator apps take it typed in:
// upper-case base32 without padding.
func EncodeTOTPSecret(secret []byte) string { return base32NoPad.EncodeToString(secret) }

// TOTPURL returns the otpauth:// URL an authenticator app reads from a QR
// code: the label is "issuer:email", both path-escaped, and the query
// states the secret, issuer, algorithm, digits and period.
func TOTPURL(issuer, email string, secret []byte) string {
	q := "secret=" + EncodeTOTPSecret(secret) +
		"&issuer=" + url.QueryEscape(issuer) +
		"&algorithm=SHA1&digits=6&period=30"
	return "otpauth://totp/" + url.PathEscape(issuer) + ":" + url.PathEscape(email) + "?" + q
}

// TOTPStep returns the time step t falls in: whole periods since the Unix
// epoch. Times before the epoch are step 0 or less.
func TOTPStep(t time.Time) int64 {
	return floorDiv(t.Unix(), int64(TOTPPeriod/time.Second))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// TOTPCode returns the 6-digit code for secret at time t. It is safe for
// concurrent use.
func TOTPCode(secret []byte, t time.Time) string {
	return HOTP(secret, uint64(TOTPStep(t)), TOTPDigits)
}

// HOTP returns the RFC 4226 code of counter, HMAC-SHA-1 with dynamic
// truncation, as digits decimal digits with leading zeros. digits must be
// 1 to 9; it panics otherwise (a programming error). TOTP is HOTP over the
// time step.
func HOTP(secret []byte, counter uint64, digits int) string {
	if digits < 1 || digits > 9 {
		panic(fmt.Sprintf("auth: HOTP digits %d outside [1, 9]", digits))
	}
	mac := hmac.New(sha1.New, secret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// MatchTOTP reports whether code (already parsed by ParseCode) is the code
// of secret for a time step within TOTPSkew of t's, and which step it
// matched. Every candidate is compared, each in constant time, so the
// time taken says nothing about which one matched. It does not know which
// steps were used already: the caller must refuse a step not after the
// last one it accepted (replay).
func MatchTOTP(secret []byte, code string, t time.Time) (step int64, ok bool) {
	now := TOTPStep(t)
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		s := now + d
		if s < 0 {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(HOTP(secret, uint64(s), TOTPDigits)), []byte(code)) == 1 && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}

// CodeKind tells a one-time code typed by a user apart.
type CodeKind int

// The kinds ParseCode tells apart.
const (
	// CodeTOTP is a 6-digit authenticator code.
	CodeTOTP CodeKind = iota + 1
	// CodeRecovery is a 24-character recovery code.
	CodeRecovery
)

// maxCodeInput bounds what ParseCode looks at: no code is anywhere near
// this long even with generous spacing.
const maxCodeInput = 64

// ParseCode normalises a code as a user may type it and says which kind
// it is: spaces and hyphens are dropped and letters lower-cased; six
// decimal digits are a TOTP code, twenty-four base32 characters a recovery
// code. Anything else returns ErrMalformedCode. The result is what
// MatchTOTP and HashRecoveryCode take.
func ParseCode(s string) (CodeKind, string, error) {
	if len(s) > maxCodeInput {
		return 0, "", ErrMalformedCode
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	code := b.String()
	switch {
	case len(code) == TOTPDigits && allIn(code, "0123456789"):
		return CodeTOTP, code, nil
	case len(code) == recoveryChars && allIn(code, recoveryAlphabet):
		return CodeRecovery, code, nil
	}
	return 0, "", ErrMalformedCode
}

func allIn(s, alphabet string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}
