package server

import (
	"errors"
	"net/http"

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

// handleRegister serves POST /v1/auth/register.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) error {
	if !s.cfg.AllowSignup {
		return errForbidden("sign-up is disabled on this server")
	}
	var req credentials
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
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
	writeJSON(w, http.StatusCreated, map[string]userView{"user": viewUser(u)})
	return nil
}

// handleLogin serves POST /v1/auth/login.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req credentials
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	u, err := s.db.UserByEmail(r.Context(), req.Email)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	// u.PasswordHash is nil for an unknown email: Check then compares
	// against a dummy hash, so both failures take the same time.
	if err := s.passwords.Check(u.PasswordHash, req.Password); err != nil {
		if errors.Is(err, auth.ErrInvalidCredentials) {
			return errBadLogin
		}
		return err
	}
	if u.Disabled {
		return errBadLogin
	}
	pair, err := s.startSession(r, u.ID)
	if err != nil {
		return err
	}
	writeTokens(w, pair)
	return nil
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
	writeTokens(w, pair)
	return nil
}

// handleLogout serves POST /v1/auth/logout: it revokes the session the
// refresh token belongs to. Logging out twice is not an error.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	claims, err := s.refreshClaims(w, r)
	if err != nil {
		return err
	}
	if _, err := s.db.RevokeSession(r.Context(), claims.SessionID, s.now()); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// refreshClaims reads {"refresh_token"} and verifies it as a refresh token.
func (s *Server) refreshClaims(w http.ResponseWriter, r *http.Request) (*auth.Claims, error) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := s.decode(w, r, &req, false); err != nil {
		return nil, err
	}
	if req.RefreshToken == "" {
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
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, u storage.User) error {
	writeJSON(w, http.StatusOK, map[string]userView{"user": viewUser(u)})
	return nil
}

// requireUser admits requests with a valid access token of an enabled
// user, and hands that user to fn.
func (s *Server) requireUser(fn func(http.ResponseWriter, *http.Request, storage.User) error) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		token, ok := auth.ParseBearer(r.Header.Get("Authorization"))
		if !ok {
			return errUnauthorized("missing or malformed Authorization: Bearer access token")
		}
		claims, err := s.tokens.Verify(token, auth.AccessToken)
		if err != nil {
			return err
		}
		u, err := s.db.UserByID(r.Context(), claims.Subject)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
			return errUnauthorized("invalid token")
		} else if err != nil {
			return err
		}
		return fn(w, r, u)
	})
}
