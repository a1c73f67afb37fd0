package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenType tells access tokens from refresh tokens. It is carried in the
// "type" claim. The zero value is not a valid type.
type TokenType string

// The token types issued and accepted by Tokens.
const (
	AccessToken  TokenType = "access"
	RefreshToken TokenType = "refresh"
)

// MinSecretBytes is the shortest HS256 secret NewTokens accepts.
const MinSecretBytes = 32

// jtiBytes is the number of random bytes in a refresh token's jti (128 bits).
const jtiBytes = 16

// Claims are the claims of keygate tokens: the registered claims (sub is the
// user ID; iss, iat and exp are always set; jti is set on refresh tokens) plus
// the token type and the session ID.
type Claims struct {
	Type      TokenType `json:"type"`
	SessionID string    `json:"sid,omitempty"`
	jwt.RegisteredClaims
}

// TokenOptions configure NewTokens.
type TokenOptions struct {
	// Secret is the HS256 key. It must be at least MinSecretBytes long; it is
	// copied, so the caller may reuse the slice.
	Secret []byte
	// Issuer is the iss claim written and required. It must not be empty.
	Issuer string
	// AccessTTL is the lifetime of access tokens. It must be positive.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of refresh tokens. It must be positive.
	RefreshTTL time.Duration
	// Now is the clock. nil means time.Now. It must be safe for concurrent
	// use if Tokens is used concurrently.
	Now func() time.Time
	// Rand is the source of refresh-token IDs (jti). nil means
	// crypto/rand.Reader. Tokens serializes its reads, so it need not be safe
	// for concurrent use.
	Rand io.Reader
}

// Tokens issues and verifies HS256 JWTs. Create it with NewTokens; the zero
// value is not usable. It is safe for concurrent use.
type Tokens struct {
	secret     []byte
	issuer     string
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time
	parser     *jwt.Parser // read-only after NewTokens

	randMu sync.Mutex // guards reads from rand
	rand   io.Reader
}

// NewTokens validates o and returns a Tokens. It returns an error if the
// secret is shorter than MinSecretBytes, the issuer is empty or either TTL is
// not positive.
func NewTokens(o TokenOptions) (*Tokens, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	t := &Tokens{
		secret:     append([]byte(nil), o.Secret...),
		issuer:     o.Issuer,
		accessTTL:  o.AccessTTL,
		refreshTTL: o.RefreshTTL,
		now:        o.Now,
		rand:       o.Rand,
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.rand == nil {
		t.rand = rand.Reader
	}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.now),
	)
	return t, nil
}

func (o TokenOptions) validate() error {
	switch {
	case len(o.Secret) < MinSecretBytes:
		return fmt.Errorf("auth: token secret must be at least %d bytes, got %d", MinSecretBytes, len(o.Secret))
	case o.Issuer == "":
		return errors.New("auth: token issuer must not be empty")
	case o.AccessTTL <= 0:
		return fmt.Errorf("auth: access token ttl must be positive, got %v", o.AccessTTL)
	case o.RefreshTTL <= 0:
		return fmt.Errorf("auth: refresh token ttl must be positive, got %v", o.RefreshTTL)
	}
	return nil
}

// AccessTTL returns the lifetime of access tokens.
func (t *Tokens) AccessTTL() time.Duration { return t.accessTTL }

// RefreshTTL returns the lifetime of refresh tokens.
func (t *Tokens) RefreshTTL() time.Duration { return t.refreshTTL }

// Issue signs a token of type typ for userID in session sessionID and returns
// it with its claims: sub=userID, sid=sessionID, iss, iat=now, exp=now+TTL of
// typ (times have one-second precision) and, for refresh tokens, a random
// 128-bit jti in base64url. It returns an error for an unknown type, an empty
// userID, or a failing random source.
func (t *Tokens) Issue(typ TokenType, userID, sessionID string) (string, Claims, error) {
	ttl, err := t.ttl(typ)
	if err != nil {
		return "", Claims{}, err
	}
	if userID == "" {
		return "", Claims{}, errors.New("auth: issuing token: empty user id")
	}
	now := t.now()
	c := Claims{Type: typ, SessionID: sessionID, RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    t.issuer,
		Subject:   userID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	if typ == RefreshToken {
		if c.ID, err = t.newJTI(); err != nil {
			return "", Claims{}, err
		}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: signing token: %w", err)
	}
	return s, c, nil
}

func (t *Tokens) ttl(typ TokenType) (time.Duration, error) {
	switch typ {
	case AccessToken:
		return t.accessTTL, nil
	case RefreshToken:
		return t.refreshTTL, nil
	}
	return 0, fmt.Errorf("auth: unknown token type %q", typ)
}

func (t *Tokens) newJTI() (string, error) {
	var b [jtiBytes]byte
	t.randMu.Lock()
	_, err := io.ReadFull(t.rand, b[:])
	t.randMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("auth: reading random source: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Verify checks token and returns its claims if it is a valid, unexpired
// HS256 token of type typ from this issuer.
//
// It returns ErrTokenExpired if the token's only fault is that it has
// expired. Any other fault returns an error wrapping ErrInvalidToken: bad
// syntax or signature, an algorithm other than HS256 (including none), a wrong
// or missing iss, an iat in the future, a missing exp or sub, a type other
// than typ, or a refresh token without jti. Errors never contain the token.
func (t *Tokens) Verify(token string, typ TokenType) (*Claims, error) {
	c := new(Claims)
	_, err := t.parser.ParseWithClaims(token, c, t.key)
	if err != nil && !onlyExpired(err) {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	// Also run for expired tokens, so that an expired token of the wrong
	// type is reported as invalid, not as expired.
	if cerr := c.check(typ); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, ErrTokenExpired
	}
	return c, nil
}

// key is the jwt.Keyfunc of Verify. The parser already pins HS256; checking
// the method again here keeps the secret from ever being handed to another
// algorithm should the parser options change.
func (t *Tokens) key(tok *jwt.Token) (any, error) {
	if tok.Method != jwt.SigningMethodHS256 {
		return nil, fmt.Errorf("unexpected signing method %v", tok.Header["alg"])
	}
	return t.secret, nil
}

// check applies the rules the jwt parser does not know about.
func (c *Claims) check(typ TokenType) error {
	switch {
	case typ != AccessToken && typ != RefreshToken:
		return fmt.Errorf("%w: unknown expected type %q", ErrInvalidToken, typ)
	case c.Type != typ:
		return fmt.Errorf("%w: type %q, want %q", ErrInvalidToken, c.Type, typ)
	case c.Subject == "":
		return fmt.Errorf("%w: missing sub", ErrInvalidToken)
	case typ == RefreshToken && c.ID == "":
		return fmt.Errorf("%w: refresh token without jti", ErrInvalidToken)
	}
	return nil
}

// onlyExpired reports whether every leaf of err's tree is
// jwt.ErrTokenExpired or the jwt.ErrTokenInvalidClaims wrapper, meaning the
// signature was good and expiry was the only failed claim check. Any shape it
// does not recognise yields false, so it fails closed (ErrInvalidToken).
func onlyExpired(err error) bool {
	switch x := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			if !onlyExpired(e) {
				return false
			}
		}
		return len(x.Unwrap()) > 0 && errors.Is(err, jwt.ErrTokenExpired)
	case interface{ Unwrap() error }:
		return onlyExpired(x.Unwrap())
	}
	return err == jwt.ErrTokenExpired || err == jwt.ErrTokenInvalidClaims
}
