package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/storage"
)

// Browser sessions. The dashboard marks its requests with
// X-Requested-With: keygate-dashboard. For those, the refresh token
// travels in an HttpOnly cookie scoped to the auth routes instead of the
// JSON body, so page scripts never hold it. A cross-site page cannot send
// that header without a CORS preflight keygate never approves, and the
// cookie is SameSite=Strict besides: together they keep the cookie routes
// safe from cross-site requests.
const (
	browserHeader = "X-Requested-With"
	browserValue  = "keygate-dashboard"
	refreshCookie = "keygate_refresh"
	cookiePath    = "/v1/auth/"
)

func fromBrowser(r *http.Request) bool { return r.Header.Get(browserHeader) == browserValue }

// refreshFromCookie is the refresh token of a browser session, or "".
func refreshFromCookie(r *http.Request) string {
	if !fromBrowser(r) {
		return ""
	}
	c, err := r.Cookie(refreshCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// setRefreshCookie moves the refresh token of pair into the cookie, for a
// browser; maxAge < 0 deletes the cookie.
func (s *Server) setRefreshCookie(w http.ResponseWriter, r *http.Request, token string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: refreshCookie, Value: token, Path: cookiePath,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.overTLS(r),
		MaxAge: int(maxAge / time.Second),
	}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// overTLS reports whether the client reached keygate over TLS, directly
// or through a trusted proxy that says so.
func (s *Server) overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	peer := peerAddr(r.RemoteAddr)
	return peer.IsValid() && s.trusted(peer) && r.Header.Get("X-Forwarded-Proto") == "https"
}

// endBrowserSession revokes the session whose refresh cookie a browser
// still sends when it signs in again, so signing in never leaves the
// previous session of that browser alive (ASVS 7.2.4).
func (s *Server) endBrowserSession(r *http.Request) {
	token := refreshFromCookie(r)
	if token == "" {
		return
	}
	claims, err := s.tokens.Verify(token, auth.RefreshToken)
	if err != nil {
		return // nothing to end: expired or not ours
	}
	if err := s.revokeSession(r, claims.Subject, claims.SessionID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.log.WarnContext(r.Context(), "previous browser session not revoked", "err", err)
	}
}
