package server

import (
	"errors"
	"io/fs"
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

// handleIndex serves GET /: the page in Assets that says what keygate is.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Assets == nil {
		return errNotFound("no page here; the API is under /v1/")
	}
	page, err := fs.ReadFile(s.cfg.Assets, "index.html")
	if errors.Is(err, fs.ErrNotExist) {
		return errNotFound("no page here; the API is under /v1/")
	} else if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(page) // a failed write is a client that left; nothing to tell it
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
