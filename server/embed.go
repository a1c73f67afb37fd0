package server

import (
	"context"
	"net/http"
)

// Key is an API key that RequireKey has verified, as handlers behind it
// see it. It holds no secret.
type Key struct {
	ID     string // the key's id, as in the API
	UserID string // the id of the user who owns it
	Tier   string // its tier
}

type keyContextKey struct{}

// KeyFromContext returns the key RequireKey verified for the request
// whose context ctx is, and false outside RequireKey.
func KeyFromContext(ctx context.Context) (Key, bool) {
	k, ok := ctx.Value(keyContextKey{}).(Key)
	return k, ok
}

// RequireKey returns middleware that admits a request only with a valid
// API key (Authorization: Bearer or X-API-Key) of one of tiers, within the
// key's limits, exactly as keygate's own protected routes do: 401, 403 or
// 429 as JSON otherwise, rate-limit headers on every answer, and the
// request counted against the key's limits. With no tiers, a key of any
// tier its owner holds is admitted. The handler it wraps finds the key
// with KeyFromContext.
//
// The counters it keeps are written behind: run the Server with Serve or
// Run so they reach the database.
func (s *Server) RequireKey(tiers ...string) func(http.Handler) http.Handler {
	if len(tiers) == 0 {
		tiers = nil // any tier
	}
	return func(next http.Handler) http.Handler {
		return s.requireKey(tiers, func(w http.ResponseWriter, r *http.Request, e *keyEntry, t *tier) error {
			k := Key{ID: e.id, UserID: e.userID, Tier: t.name}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyContextKey{}, k)))
			return nil
		})
	}
}

// Run writes counters and last-used times in the background until ctx is
// done, then writes what is left and returns. Serve runs it; a program
// that mounts the Server or RequireKey on its own http.Server runs it
// instead, and waits for it to return before closing the database.
func (s *Server) Run(ctx context.Context) error {
	s.runFlusher(ctx)
	return s.Flush(context.WithoutCancel(ctx))
}
