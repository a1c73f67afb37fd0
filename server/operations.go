package server

import (
	"errors"
	"net/http"

	"github.com/keygate/keygate/storage"
)

// handleHealth serves GET /healthz: 200 when the store answers a read.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.db.UserByID(r.Context(), "health-probe"); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleJWKS serves GET /.well-known/jwks.json: the public keys that
// verify keygate's tokens, when they are signed with an asymmetric key.
// With HS256 there is nothing to publish: 404.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	set, ok := s.tokens.JWKS()
	if !ok {
		return errNotFound("tokens are signed with a shared secret (HS256): there are no public keys")
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, set)
	return nil
}
