package auth

import (
	"crypto/ed25519"
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
	// Algorithm is the signing algorithm: HS256 (also when empty) or EdDSA.
	// Any other value is an error.
	Algorithm string
	// Secret is the HS256 key. With HS256 it must be at least MinSecretBytes
	// long; it is copied, so the caller may reuse the slice. It is ignored
	// with EdDSA.
	Secret []byte
	// Keys are the Ed25519 keys of EdDSA; they must be empty with HS256.
	// Keys[0] signs every new token and must have a Private key; every key
	// verifies the tokens whose "kid" header is its ID, so a rotated-out key
	// stays listed (verify-only, Private nil) until its last token expires.
	// IDs must be unique. The keys are copied; only Keys[0]'s private key is
	// kept.
	Keys []SigningKey
	// Issuer is the iss claim written and required. It must not be empty.
	Issuer string
	// Audience, if not empty, is the aud claim written into every token and
	// required of every token verified, so a token minted for another
	// service by the same issuer is refused. Empty: no aud is written or
	// required.
	Audience string
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

// Tokens issues and verifies HS256 or EdDSA JWTs. Create it with NewTokens;
// the zero value is not usable. Its keys are fixed: rotate by building a new
// Tokens, which also starts without the access tokens the old one had
// verified and remembered (see Verify). It is safe for concurrent use.
type Tokens struct {
	// Every field but rand is read-only after NewTokens.
	alg     string            // HS256 or EdDSA
	method  jwt.SigningMethod // the method of alg
	signKey any               // HS256: secret; EdDSA: Keys[0].Private
	kid     string            // EdDSA: Keys[0].ID; HS256: empty

	secret []byte                       // HS256 only
	public map[string]ed25519.PublicKey // EdDSA only: verification keys by kid
	jwks   []JWK                        // EdDSA only: public keys in Keys order

	issuer     string
	audience   string
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time
	parser     *jwt.Parser
	verified   *tokenCache // access tokens that passed every check but the time ones

	randMu sync.Mutex // guards reads from rand
	rand   io.Reader
}

// NewTokens validates o and returns a Tokens. It returns an error if the
// algorithm is unknown, the issuer is empty or either TTL is not positive;
// for HS256 if the secret is shorter than MinSecretBytes or Keys is not
// empty; for EdDSA if Keys is empty, Keys[0] has no private key, or a key has
// an empty, malformed or duplicate ID, a public key that is not
// ed25519.PublicKeySize bytes, or a private key that does not match it.
func NewTokens(o TokenOptions) (*Tokens, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	t := &Tokens{
		issuer:     o.Issuer,
		audience:   o.Audience,
		accessTTL:  o.AccessTTL,
		refreshTTL: o.RefreshTTL,
		now:        o.Now,
		rand:       o.Rand,
		verified:   newTokenCache(),
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.rand == nil {
		t.rand = rand.Reader
	}
	if o.algorithm() == EdDSA {
		t.setKeys(o.Keys)
	} else {
		t.setSecret(o.Secret)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{t.alg}),
		jwt.WithIssuer(t.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.now),
	}
	if t.audience != "" {
		opts = append(opts, jwt.WithAudience(t.audience))
	}
	t.parser = jwt.NewParser(opts...)
	return t, nil
}

// audiences is the aud claim of new tokens, or nil when there is none.
func (t *Tokens) audiences() jwt.ClaimStrings {
	if t.audience == "" {
		return nil
	}
	return jwt.ClaimStrings{t.audience}
}

func (t *Tokens) setSecret(secret []byte) {
	t.alg, t.method = HS256, jwt.SigningMethodHS256
	t.secret = append([]byte(nil), secret...)
	t.signKey = t.secret
}

// algorithm returns o.Algorithm with the default applied.
func (o TokenOptions) algorithm() string {
	if o.Algorithm == "" {
		return HS256
	}
	return o.Algorithm
}

func (o TokenOptions) validate() error {
	switch {
	case o.Issuer == "":
		return errors.New("auth: token issuer must not be empty")
	case o.AccessTTL <= 0:
		return fmt.Errorf("auth: access token ttl must be positive, got %v", o.AccessTTL)
	case o.RefreshTTL <= 0:
		return fmt.Errorf("auth: refresh token ttl must be positive, got %v", o.RefreshTTL)
	}
	switch o.algorithm() {
	case HS256:
		return o.validateHS256()
	case EdDSA:
		return validateKeys(o.Keys)
	}
	return fmt.Errorf("auth: unknown token algorithm %q, want %q or %q", o.Algorithm, HS256, EdDSA)
}

func (o TokenOptions) validateHS256() error {
	switch {
	case len(o.Secret) < MinSecretBytes:
		return fmt.Errorf("auth: token secret must be at least %d bytes, got %d", MinSecretBytes, len(o.Secret))
	case len(o.Keys) > 0:
		// Most likely Algorithm was forgotten: refuse rather than silently
		// sign with the secret and break every JWKS verifier.
		return fmt.Errorf("auth: signing keys given but algorithm is %s; set Algorithm to %s", HS256, EdDSA)
	}
	return nil
}

// Algorithm returns the signing algorithm of t: HS256 or EdDSA.
func (t *Tokens) Algorithm() string { return t.alg }

// Issuer returns the iss claim t writes and requires. It is one of the
// words a new password must not contain (CheckContextWords).
func (t *Tokens) Issuer() string { return t.issuer }

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
		Audience:  t.audiences(),
		Subject:   userID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	if typ == RefreshToken {
		if c.ID, err = t.newJTI(); err != nil {
			return "", Claims{}, err
		}
	}
	jt := jwt.NewWithClaims(t.method, c)
	if t.kid != "" {
		jt.Header["kid"] = t.kid
	}
	s, err := jt.SignedString(t.signKey)
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
// token of type typ from this issuer, signed with t's algorithm: with the
// secret for HS256, or for EdDSA with the key of TokenOptions.Keys whose ID
// is the token's "kid" header.
//
// It returns ErrTokenExpired if the token's only fault is that it has
// expired. Any other fault returns an error wrapping ErrInvalidToken: bad
// syntax or signature, an algorithm other than t's (including none), a
// missing or unknown kid with EdDSA, a wrong
// or missing iss, an iat in the future, a missing exp or sub, a type other
// than typ, or a refresh token without jti. Errors never contain the token.
//
// An access token that passed is remembered by its exact text (up to a
// few thousand tokens), so its next Verify only redoes the time checks
// (exp, and iat and nbf, against the clock now). The returned Claims are
// the caller's, but their Audience and time values may be shared with
// other calls: do not modify what those point to.
func (t *Tokens) Verify(token string, typ TokenType) (*Claims, error) {
	if typ == AccessToken {
		if cached := t.verified.get(token); cached != nil {
			return t.verifyCached(token, cached)
		}
	}
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
	if typ == AccessToken {
		stored := *c
		t.verified.put(token, &stored, t.now())
	}
	return c, nil
}

// verifyCached is Verify for a token found in t.verified: only the time
// checks, which the parser made when it was stored, can have changed.
func (t *Tokens) verifyCached(token string, cached *Claims) (*Claims, error) {
	now := t.now()
	switch {
	case cached.IssuedAt != nil && now.Before(cached.IssuedAt.Time):
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, jwt.ErrTokenUsedBeforeIssued)
	case cached.NotBefore != nil && now.Before(cached.NotBefore.Time):
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, jwt.ErrTokenNotValidYet)
	case !now.Before(cached.ExpiresAt.Time):
		t.verified.drop(token)
		return nil, ErrTokenExpired
	}
	c := *cached
	return &c, nil
}

// key is the jwt.Keyfunc of Verify. The parser already pins t's algorithm;
// checking the method again here keeps a key from ever being handed to
// another algorithm (the HS256-with-a-public-key confusion) should the parser
// options change.
func (t *Tokens) key(tok *jwt.Token) (any, error) {
	if tok.Method != t.method {
		return nil, fmt.Errorf("unexpected signing method %v", tok.Header["alg"])
	}
	if t.alg == HS256 {
		return t.secret, nil
	}
	// The kid is not echoed in the error: it is attacker-chosen token text.
	kid, ok := tok.Header["kid"].(string)
	if !ok {
		return nil, errors.New("missing kid")
	}
	pub, ok := t.public[kid]
	if !ok {
		return nil, errors.New("unknown kid")
	}
	return pub, nil
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
