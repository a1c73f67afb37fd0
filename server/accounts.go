package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/storage"
)

// errBadLogin is the one answer to a failed login, whatever failed, so a
// caller cannot tell an unknown email from a wrong password.
var errBadLogin = &apiError{status: http.StatusUnauthorized, code: "unauthorized", detail: "invalid email or password"}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// loginRequest is the body of POST /v1/auth/login: the credentials and,
// for a user with two-factor authentication on, a TOTP or recovery code.
type loginRequest struct {
	credentials
	Code string `json:"code"`
}

// validate normalises the email and checks the password's length, so a
// password bcrypt would truncate is refused rather than half-checked.
func (c *credentials) validate() error {
	email, err := auth.NormalizeEmail(c.Email)
	if err != nil {
		return err
	}
	c.Email = email
	return auth.ValidatePassword(c.Password)
}

// validNewPassword checks a password about to be set, for the request
// field named field: its length in bytes and in characters, and no word
// anyone would try first against this account (ASVS 6.2.11): the
// service's name, the words in service (the key prefix and token issuer,
// see passwordWords), its email's local part or a label of its domain.
// Hasher.Hash then refuses the most common and breached passwords.
func validNewPassword(field, password, email string, service ...string) error {
	switch err := auth.ValidateNewPassword(password); {
	case errors.Is(err, auth.ErrPasswordTooFewChars):
		return errInvalid("%s: must be at least %d characters", field, auth.MinPasswordChars)
	case err != nil:
		return errInvalid("%s: must be %d to %d bytes", field, auth.MinPasswordBytes, auth.MaxPasswordBytes)
	}
	var cw *auth.ContextWordError
	switch err := auth.CheckContextWords(password, email, append([]string{"keygate"}, service...)...); {
	case errors.As(err, &cw) && cw.FromEmail:
		return errInvalid("%s: must not contain your email address or a part of it", field)
	case errors.As(err, &cw) && cw.Word == "keygate":
		return errInvalid("%s: must not contain the service's name", field)
	case errors.As(err, &cw):
		return errInvalid("%s: must not contain %q, a word of this service", field, cw.Word)
	}
	return nil
}

// passwordWords are this server's words a new password must not contain:
// its API key prefix and its token issuer.
func (s *Server) passwordWords() []string {
	return []string{s.cfg.KeyPrefix, s.tokens.Issuer()}
}

// tooMany is the 429 of login and sign-up throttling.
func tooMany(what string, wait time.Duration) error {
	return errRateLimited(fmt.Sprintf("Too many %s; try again in %d seconds", what, wholeSeconds(wait, 1)), wait)
}

// handleRegister serves POST /v1/auth/register.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) error {
	if !s.cfg.AllowSignup {
		return errForbidden("sign-up is disabled on this server")
	}
	if ok, wait := s.signupLimit.AllowAt(s.clientIP(r), s.now()); !ok {
		return tooMany("sign-ups from this address", wait)
	}
	var req credentials
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	if err := validNewPassword("password", req.Password, req.Email, s.passwordWords()...); err != nil {
		return err
	}
	hash, err := s.passwords.Hash(req.Password)
	if err != nil {
		return err
	}
	id, err := auth.NewID("usr_", s.rand)
	if err != nil {
		return err
	}
	u := storage.User{ID: id, Email: req.Email, PasswordHash: hash, Role: "user",
		Tiers: []string{"basic"}, CreatedAt: s.now().UTC()}
	if err := s.db.CreateUser(r.Context(), u); errors.Is(err, storage.ErrConflict) {
		return errConflict("email: already registered")
	} else if err != nil {
		return err
	}
	s.audit(r, u.ID, actionUserRegistered, u.ID)
	writeJSON(w, http.StatusCreated, map[string]userView{"user": viewUser(u)})
	return nil
}

// handleLogin serves POST /v1/auth/login. Attempts are limited per client
// address, and failures back off per (address, email): someone else's
// failures from elsewhere never lock the owner out.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	ip, now := s.clientIP(r), s.now()
	if ok, wait := s.loginLimit.AllowAt(ip, now); !ok {
		return tooMany("login attempts from this address", wait)
	}
	var req loginRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	pair := ip + " " + req.Email
	if wait := s.loginFails.CheckAt(pair, now); wait > 0 {
		return tooMany("failed logins", wait)
	}
	u, err := s.checkLogin(r, req)
	if errors.Is(err, errMFARequired) {
		w.Header().Set(mfaHeader, "required")
		return err
	} else if errors.Is(err, errBadLogin) {
		s.loginFails.FailAt(pair, now)
		s.audit(r, "", actionUserLoginFailed, u.ID)
		return err
	} else if err != nil {
		return err
	}
	s.loginFails.Reset(pair)
	s.endBrowserSession(r)
	tokens, err := s.startSession(r, u.ID)
	if err != nil {
		return err
	}
	s.audit(r, u.ID, actionUserLogin, u.ID)
	s.writeTokens(w, r, tokens)
	return nil
}

// checkLogin returns the enabled user with these credentials and, if
// their two-factor authentication is on, code; errBadLogin with the user
// (if any) the email named; or errMFARequired when only the code is missing.
func (s *Server) checkLogin(r *http.Request, req loginRequest) (storage.User, error) {
	u, err := s.db.UserByEmail(r.Context(), req.Email)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, err
	}
	// u.PasswordHash is nil for an unknown email: Check then compares
	// against a dummy hash, so both failures take the same time.
	if err := s.passwords.Check(u.PasswordHash, req.Password); errors.Is(err, auth.ErrInvalidCredentials) {
		return u, errBadLogin
	} else if err != nil {
		return u, err
	}
	if u.Disabled {
		return u, errBadLogin
	}
	// Only now, the password right: no one else learns whether MFA is on.
	return u, s.loginMFA(r, u, req.Code)
}

// handleRefresh serves POST /v1/auth/refresh: it spends the refresh token
// and issues the next pair. A token already spent revokes its session.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	claims, err := s.refreshClaims(w, r)
	if err != nil {
		return err
	}
	u, err := s.db.UserByID(r.Context(), claims.Subject)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
		return errUnauthorized("invalid refresh token")
	} else if err != nil {
		return err
	}
	pair, err := s.continueSession(r, claims)
	if err != nil {
		return err
	}
	s.writeTokens(w, r, pair)
	return nil
}

// handleLogout serves POST /v1/auth/logout: it revokes the session the
// refresh token belongs to, and with it the session's access tokens.
// Logging out twice is not an error.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	claims, err := s.refreshClaims(w, r)
	if err != nil {
		return err
	}
	if err := s.revokeSession(r, claims.Subject, claims.SessionID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if fromBrowser(r) {
		s.setRefreshCookie(w, r, "", -1)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// refreshClaims reads {"refresh_token"}, or a browser's cookie, and
// verifies it as a refresh token.
func (s *Server) refreshClaims(w http.ResponseWriter, r *http.Request) (*auth.Claims, error) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := s.decode(w, r, &req, fromBrowser(r)); err != nil {
		return nil, err
	}
	if req.RefreshToken == "" {
		req.RefreshToken = refreshFromCookie(r)
	}
	switch {
	case req.RefreshToken == "" && fromBrowser(r):
		return nil, errUnauthorized("not signed in")
	case req.RefreshToken == "":
		return nil, errInvalid("refresh_token: required")
	}
	claims, err := s.tokens.Verify(req.RefreshToken, auth.RefreshToken)
	if errors.Is(err, auth.ErrTokenExpired) {
		return nil, errUnauthorized("refresh token expired")
	} else if err != nil || claims.SessionID == "" {
		return nil, errUnauthorized("invalid refresh token")
	}
	return claims, nil
}

// handleMe serves GET /v1/me.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, c *caller) error {
	m, err := s.db.MFA(r.Context(), c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]meView{"user": {userMFAView{viewUser(c.User), m.Enabled}, s.mfaRequiredOf(c.Role)}})
	return nil
}

// caller is the user an access token speaks for, and the session it
// belongs to.
type caller struct {
	storage.User
	SessionID string
}

// requireSignedIn admits requests with a valid access token of a live
// session of an enabled user, and hands that caller to fn. The session is
// checked in memory, so a revoked session's tokens fail on the next
// request. Most routes want requireUser, which also applies the two-factor
// policy; this is for the routes a user needs to meet it.
func (s *Server) requireSignedIn(fn func(http.ResponseWriter, *http.Request, *caller) error) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.authenticateUser(r)
		if err != nil {
			return err
		}
		return fn(w, r, c)
	})
}

// requireAdmin is requireUser for admins only: anyone else gets 403.
func (s *Server) requireAdmin(fn func(http.ResponseWriter, *http.Request, *caller) error) http.Handler {
	return s.requireUser(func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if c.Role != "admin" {
			return errForbidden("administrators only")
		}
		return fn(w, r, c)
	})
}

func (s *Server) authenticateUser(r *http.Request) (*caller, error) {
	token, ok := auth.ParseBearer(r.Header.Get("Authorization"))
	if !ok {
		return nil, errUnauthorized("missing or malformed Authorization: Bearer access token")
	}
	claims, err := s.tokens.Verify(token, auth.AccessToken)
	if err != nil {
		return nil, err
	}
	if !s.sessions.check(claims.SessionID, claims.Subject, s.now()) {
		return nil, errUnauthorized("session revoked or expired")
	}
	u, err := s.db.UserByID(r.Context(), claims.Subject)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
		return nil, errUnauthorized("invalid token")
	} else if err != nil {
		return nil, err
	}
	return &caller{User: u, SessionID: claims.SessionID}, nil
}
