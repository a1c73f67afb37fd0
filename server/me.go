package server

import (
	"errors"
	"net/http"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/storage"
)

// handlePasswordChange serves POST /v1/me/password: with the current
// password, set a new one and revoke every other session of the user.
// Wrong guesses back off like failed logins, so a stolen access token
// cannot be used to search for the password.
func (s *Server) handlePasswordChange(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	if err := validNewPassword("new_password", req.NewPassword, c.Email, s.passwordWords()...); err != nil {
		return err
	}
	pair, now := s.clientIP(r)+" "+c.Email, s.now()
	if wait := s.loginFails.CheckAt(pair, now); wait > 0 {
		return tooMany("failed password checks", wait)
	}
	if err := s.passwords.Check(c.PasswordHash, req.CurrentPassword); err != nil {
		if errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrPasswordTooShort) || errors.Is(err, auth.ErrPasswordTooLong) {
			s.loginFails.FailAt(pair, now)
			return errForbidden("current_password: incorrect")
		}
		return err
	}
	s.loginFails.Reset(pair)
	hash, err := s.passwords.Hash(req.NewPassword)
	if err != nil {
		return err
	}
	if _, err := s.db.UpdateUser(r.Context(), c.ID, func(u *storage.User) error {
		u.PasswordHash = hash
		return nil
	}); err != nil {
		return err
	}
	s.audit(r, c.ID, actionPasswordChanged, c.ID)
	if err := s.revokeUserSessions(r, c.ID, c.ID, c.SessionID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionView is the API's Session.
type sessionView struct {
	ID         string  `json:"id"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	ExpiresAt  string  `json:"expires_at"`
	UserAgent  string  `json:"user_agent"`
	IP         string  `json:"ip"`
	Current    bool    `json:"current"`
}

// handleSessionList serves GET /v1/me/sessions: the caller's live
// sessions, newest first.
func (s *Server) handleSessionList(w http.ResponseWriter, r *http.Request, c *caller) error {
	all, err := s.db.SessionsByUser(r.Context(), c.ID)
	if err != nil {
		return err
	}
	now := s.now()
	out := make([]sessionView, 0, len(all))
	for _, sess := range all {
		if !sess.RevokedAt.IsZero() || !now.Before(sess.ExpiresAt) {
			continue
		}
		out = append(out, sessionView{
			ID: sess.ID, CreatedAt: timestamp(sess.CreatedAt),
			LastUsedAt: optionalTimestamp(later(sess.LastUsedAt, s.sessions.lastUsed(sess.ID))),
			ExpiresAt:  timestamp(sess.ExpiresAt),
			UserAgent:  sess.UserAgent, IP: sess.IP, Current: sess.ID == c.SessionID,
		})
	}
	writeJSON(w, http.StatusOK, map[string][]sessionView{"sessions": out})
	return nil
}

// handleSessionRevoke serves DELETE /v1/me/sessions/{id}. Another user's
// session is not found, like one that does not exist.
func (s *Server) handleSessionRevoke(w http.ResponseWriter, r *http.Request, c *caller) error {
	err := s.revokeSession(r, c.ID, r.PathValue("id"))
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return errNotFound("no such session")
	} else if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleSessionRevokeAll serves DELETE /v1/me/sessions: sign out
// everywhere, this session included.
func (s *Server) handleSessionRevokeAll(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.revokeUserSessions(r, c.ID, c.ID, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
