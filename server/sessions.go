package server

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/storage"
)

// tokenPair is the API's TokenPair.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"` // empty for a browser: it has the cookie
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// startSession stores a new session for userID and issues its first pair.
// The session is committed before the tokens are handed out.
func (s *Server) startSession(r *http.Request, userID string) (tokenPair, error) {
	sid, err := auth.NewID("ses_", s.rand)
	if err != nil {
		return tokenPair{}, err
	}
	pair, refresh, err := s.issuePair(userID, sid)
	if err != nil {
		return tokenPair{}, err
	}
	now := s.now().UTC()
	sess := storage.Session{
		ID: sid, UserID: userID, RefreshID: refresh.ID,
		CreatedAt: now, LastUsedAt: now, ExpiresAt: s.sessionExpiry(now, refresh.ExpiresAt.Time),
		UserAgent: truncate(r.UserAgent(), 256), IP: s.clientIP(r),
	}
	if err := s.makeRoomForSession(r, userID); err != nil {
		return tokenPair{}, err
	}
	if err := s.db.CreateSession(r.Context(), sess); err != nil {
		return tokenPair{}, err
	}
	s.sessions.add(sess)
	return pair, nil
}

// sessionExpiry is when a session created at created ends if its latest
// refresh token expires at refreshExp: refreshing extends a session, but
// never past SessionMaxAge after it began (ASVS 7.3.2).
func (s *Server) sessionExpiry(created, refreshExp time.Time) time.Time {
	if limit := created.Add(s.cfg.SessionMaxAge); refreshExp.After(limit) {
		return limit
	}
	return refreshExp
}

// makeRoomForSession revokes a user's least recently used live sessions
// so that a new one keeps them within MaxSessionsPerUser (ASVS 7.1.2).
func (s *Server) makeRoomForSession(r *http.Request, userID string) error {
	all, err := s.db.SessionsByUser(r.Context(), userID)
	if err != nil {
		return err
	}
	now := s.now()
	var live []storage.Session
	for _, sess := range all {
		if sess.LiveAt(now) {
			live = append(live, sess)
		}
	}
	if len(live) < s.cfg.MaxSessionsPerUser {
		return nil
	}
	lastUse := func(sess storage.Session) time.Time { return later(sess.LastUsedAt, s.sessions.lastUsed(sess.ID)) }
	slices.SortFunc(live, func(a, b storage.Session) int { return lastUse(a).Compare(lastUse(b)) })
	for _, sess := range live[:len(live)-s.cfg.MaxSessionsPerUser+1] {
		if err := s.revokeSession(r, userID, sess.ID); err != nil {
			return err
		}
	}
	return nil
}

// continueSession spends the refresh token described by claims and issues
// the next pair of the same session. Spending a token twice revokes the
// session: one of the two callers is not its owner.
func (s *Server) continueSession(r *http.Request, claims *auth.Claims) (tokenPair, error) {
	pair, refresh, err := s.issuePair(claims.Subject, claims.SessionID)
	if err != nil {
		return tokenPair{}, err
	}
	current, err := s.db.SessionByID(r.Context(), claims.SessionID)
	if errors.Is(err, storage.ErrNotFound) {
		return tokenPair{}, errUnauthorized("session revoked")
	} else if err != nil {
		return tokenPair{}, err
	}
	expires := s.sessionExpiry(current.CreatedAt, refresh.ExpiresAt.Time)
	if !s.now().Before(expires) {
		return tokenPair{}, errUnauthorized("session expired: sign in again")
	}
	sess, err := s.db.RotateSession(r.Context(), claims.SessionID, claims.ID, refresh.ID, s.now(), expires)
	switch {
	case errors.Is(err, storage.ErrTokenReused):
		s.sessions.remove(claims.SessionID)
		s.log.WarnContext(r.Context(), "refresh token reused; session revoked", "session_id", claims.SessionID)
		s.audit(r, claims.Subject, actionSessionReuse, claims.SessionID)
		return tokenPair{}, errUnauthorized("refresh token already used; the session has been revoked")
	case errors.Is(err, storage.ErrSessionRevoked), errors.Is(err, storage.ErrNotFound):
		return tokenPair{}, errUnauthorized("session revoked")
	case err != nil:
		return tokenPair{}, err
	case sess.UserID != claims.Subject:
		return tokenPair{}, errUnauthorized("invalid refresh token")
	}
	s.sessions.extend(sess.ID, sess.ExpiresAt)
	return pair, nil
}

// revokeSession revokes session sid of userID, in the store and then in
// memory, so its access tokens are refused from the next request on.
func (s *Server) revokeSession(r *http.Request, userID, sid string) error {
	sess, err := s.db.SessionByID(r.Context(), sid)
	if err != nil {
		return err
	}
	if sess.UserID != userID {
		return storage.ErrNotFound
	}
	if _, err := s.db.RevokeSession(r.Context(), sid, s.now().UTC()); err != nil {
		return err
	}
	s.sessions.remove(sid)
	if sess.RevokedAt.IsZero() {
		s.audit(r, userID, actionSessionRevoked, sid)
	}
	return nil
}

// revokeUserSessions revokes every session of userID but except ("" for
// none), in the store and then in memory.
func (s *Server) revokeUserSessions(r *http.Request, actorID, userID, except string) error {
	ids, err := s.db.RevokeUserSessions(r.Context(), userID, except, s.now().UTC())
	if err != nil {
		return err
	}
	s.sessions.remove(ids...)
	s.audit(r, actorID, actionSessionRevoked, ids...)
	return nil
}

// issuePair signs an access and a refresh token for one session.
func (s *Server) issuePair(userID, sid string) (tokenPair, auth.Claims, error) {
	access, _, err := s.tokens.Issue(auth.AccessToken, userID, sid)
	if err != nil {
		return tokenPair{}, auth.Claims{}, err
	}
	refresh, claims, err := s.tokens.Issue(auth.RefreshToken, userID, sid)
	if err != nil {
		return tokenPair{}, auth.Claims{}, err
	}
	pair := tokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int64(s.tokens.AccessTTL().Seconds())}
	return pair, claims, nil
}

// writeTokens answers with a token pair. A browser gets its refresh token
// as an HttpOnly cookie instead of in the body.
func (s *Server) writeTokens(w http.ResponseWriter, r *http.Request, pair tokenPair) {
	if fromBrowser(r) {
		s.setRefreshCookie(w, r, pair.RefreshToken, s.tokens.RefreshTTL())
		pair.RefreshToken = ""
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, pair)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
