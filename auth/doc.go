// Package auth holds keygate's credential primitives: password hashing,
// JWT access and refresh tokens, API keys, opaque IDs and Bearer header
// parsing.
//
// # Basics
//
// The package is pure: it performs no I/O besides reading an injected
// random source, and it knows nothing about HTTP or storage. The clock
// (TokenOptions.Now) and the randomness (TokenOptions.Rand and the io.Reader
// parameters of NewKey and NewID) are injected so tests are reproducible.
//
// Passwords are hashed with bcrypt by a Hasher. API keys are
// <prefix><43 base62 characters> and are identified by the SHA-256 of the
// whole raw key (KeyHash); only that hash and the display prefix are meant to
// be stored. Tokens are JWTs with typed Claims, signed with HS256 (a shared
// secret, the default) or EdDSA (Ed25519 SigningKeys named by the "kid"
// header, whose public halves Tokens.JWKS publishes for other services).
//
// # Errors
//
// Failures a client can cause are reported with the sentinel errors of this
// package (ErrInvalidCredentials, ErrPasswordTooShort, ErrPasswordTooLong,
// ErrInvalidToken, ErrTokenExpired, ErrMalformedKey); compare with errors.Is.
// Any other error (a failing random source, a corrupt stored hash, bad
// options) is an internal error.
//
// # Caveats
//
// bcrypt only reads the first 72 bytes of a password, so longer passwords are
// refused with ErrPasswordTooLong rather than silently truncated.
//
// A Tokens never changes its keys. To rotate EdDSA keys, build a new Tokens
// whose Keys[0] is a new SigningKey followed by the old keys, verify-only,
// and drop an old key only once its last refresh token has expired.
//
// ParseKey and ParseBearer sit on the request hot path and do not allocate.
package auth
