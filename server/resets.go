package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/storage"
)

const (
	resetTokenPrefix = "kgreset_"
	resetTokenTTL    = time.Hour
)

// handleAdminPasswordReset serves POST /v1/admin/users/{id}/password-reset:
// a single-use token, good for an hour, that the admin hands to the user
// by a channel of their choosing. The admin never learns or sets the
// password, and only the token's SHA-256 is stored (ASVS 6.4.3).
func (s *Server) handleAdminPasswordReset(w http.ResponseWriter, r *http.Request, admin *caller) error {
	token, hash, _, err := auth.NewKey(resetTokenPrefix, s.rand)
	if err != nil {
		return err
	}
	expires := s.now().UTC().Add(resetTokenTTL)
	err = s.db.CreatePasswordReset(r.Context(), hash, r.PathValue("id"), expires)
	if errors.Is(err, storage.ErrNotFound) {
		return errNotFound("no such user")
	} else if err != nil {
		return err
	}
	s.audit(r, admin.ID, actionPasswordResetIssued, r.PathValue("id"))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]string{"token": token, "expires_at": timestamp(expires)})
	return nil
}

// handlePasswordReset serves POST /v1/auth/password-reset
// {"token","new_password"}: spend a reset token, set the password and end
// every session of the user. Attempts count against the address's login
// limit, so tokens cannot be guessed at speed (they hold 256 bits anyway).
func (s *Server) handlePasswordReset(w http.ResponseWriter, r *http.Request) error {
	if ok, wait := s.loginLimit.AllowAt(s.clientIP(r), s.now()); !ok {
		return tooMany("attempts from this address", wait)
	}
	var req struct {
		Token       string `json:"token"`
		NewPassword string `json:"new_password"`
	}
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	badToken := errUnauthorized("invalid, used or expired reset token")
	hash, err := auth.ParseKey(resetTokenPrefix, req.Token)
	if err != nil {
		return badToken
	}
	u, err := s.db.PasswordResetUser(r.Context(), hash, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return badToken
	} else if err != nil {
		return err
	}
	if err := validNewPassword("new_password", req.NewPassword, u.Email, s.passwordWords()...); err != nil {
		return err
	}
	newHash, err := s.passwords.Hash(req.NewPassword)
	if err != nil {
		return err
	}
	if u, err = s.db.UsePasswordReset(r.Context(), hash, newHash, s.now()); errors.Is(err, storage.ErrNotFound) {
		return badToken // spent by a concurrent request meanwhile
	} else if err != nil {
		return err
	}
	s.audit(r, u.ID, actionPasswordReset, u.ID)
	if err := s.revokeUserSessions(r, u.ID, u.ID, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
