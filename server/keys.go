package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/storage"
)

const (
	maxKeyName   = 100
	maxExpiresIn = 10 * 365 * 24 * 60 * 60 // seconds: ten years
	maxGrace     = 30 * 24 * 60 * 60       // seconds: thirty days
)

type keyCreateRequest struct {
	Name      string  `json:"name"`
	Tier      *string `json:"tier"`
	ExpiresIn *int64  `json:"expires_in"`
}

// handleKeyCreate serves POST /v1/keys.
func (s *Server) handleKeyCreate(w http.ResponseWriter, r *http.Request, u *caller) error {
	var req keyCreateRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	name, err := validKeyName(req.Name)
	if err != nil {
		return err
	}
	tier := "basic"
	if req.Tier != nil {
		tier = *req.Tier
	}
	if err := s.checkTier(u.User, tier); err != nil {
		return err
	}
	now := s.now().UTC()
	k := storage.APIKey{UserID: u.ID, Name: name, Tier: tier, CreatedAt: now}
	if req.ExpiresIn != nil {
		if *req.ExpiresIn < 1 || *req.ExpiresIn > maxExpiresIn {
			return errInvalid("expires_in: must be 1 to %d seconds", maxExpiresIn)
		}
		k.ExpiresAt = now.Add(time.Duration(*req.ExpiresIn) * time.Second)
	}
	raw, err := s.newKey(&k)
	if err != nil {
		return err
	}
	err = s.db.CreateAPIKey(r.Context(), k, s.cfg.MaxKeysPerUser, now)
	if errors.Is(err, storage.ErrKeyLimit) {
		return errForbidden(fmt.Sprintf("active key limit reached (%d): revoke a key first", s.cfg.MaxKeysPerUser))
	} else if err != nil {
		return err
	}
	s.known.add(k.Hash) // before the 201: a client may use the key at once
	s.keys.invalidate(k.Hash)
	s.audit(r, u.ID, actionKeyCreated, k.ID)
	v := s.viewKey(k, now)
	v.Key = raw
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// newKey fills k's id and hash with a fresh key and returns the raw key,
// which exists only in this request from now on.
func (s *Server) newKey(k *storage.APIKey) (string, error) {
	id, err := auth.NewID("key_", s.rand)
	if err != nil {
		return "", err
	}
	raw, hash, display, err := auth.NewKey(s.cfg.KeyPrefix, s.rand)
	if err != nil {
		return "", err
	}
	k.ID, k.Hash, k.Prefix = id, hash, display
	return raw, nil
}

func validKeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", errInvalid("name: required")
	case len(name) > maxKeyName:
		return "", errInvalid("name: at most %d bytes", maxKeyName)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		return "", errInvalid("name: must be printable UTF-8 text")
	}
	return name, nil
}

// checkTier says whether u may hold a key of tier: 400 for a tier the
// server does not have, 403 for one the user was not granted.
func (s *Server) checkTier(u storage.User, tier string) error {
	if _, ok := s.current().tiers[tier]; !ok {
		return errInvalid("tier: unknown tier %q", tier)
	}
	if !slices.Contains(u.Tiers, tier) {
		return errForbidden(fmt.Sprintf("tier %q is not granted to this account", tier))
	}
	return nil
}

// handleKeyList serves GET /v1/keys.
func (s *Server) handleKeyList(w http.ResponseWriter, r *http.Request, u *caller) error {
	keys, err := s.db.APIKeysByUser(r.Context(), u.ID)
	if err != nil {
		return err
	}
	buf := getBuf()
	defer putBuf(buf)
	*buf = s.appendKeyList(*buf, keys, s.now())
	writeRawJSON(w, http.StatusOK, *buf)
	return nil
}

// appendKeyList appends {"keys":[...]} and a newline, as writeJSON would
// write map[string][]keyView{"keys": views}.
func (s *Server) appendKeyList(dst []byte, keys []storage.APIKey, now time.Time) []byte {
	dst = append(dst, `{"keys":[`...)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		v := s.viewKey(k, now)
		dst = appendKeyView(dst, &v)
	}
	return append(dst, "]}\n"...)
}

// handleKeyGet serves GET /v1/keys/{id}.
func (s *Server) handleKeyGet(w http.ResponseWriter, r *http.Request, u *caller) error {
	k, err := s.ownKey(r, u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewKey(k, s.now()))
	return nil
}

// handleKeyRevoke serves DELETE /v1/keys/{id}. Revoking a revoked key is
// not an error.
func (s *Server) handleKeyRevoke(w http.ResponseWriter, r *http.Request, u *caller) error {
	k, err := s.ownKey(r, u)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if _, err := s.db.RevokeAPIKey(r.Context(), k.ID, now); err != nil {
		return err
	}
	s.keys.invalidate(k.Hash)
	if k.ActiveAt(now) {
		s.audit(r, u.ID, actionKeyRevoked, k.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleKeyRotate serves POST /v1/keys/{id}/rotate.
func (s *Server) handleKeyRotate(w http.ResponseWriter, r *http.Request, u *caller) error {
	var req struct {
		GraceSeconds *int64 `json:"grace_seconds"`
	}
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	grace := s.cfg.RotationGrace
	if req.GraceSeconds != nil {
		if *req.GraceSeconds < 0 || *req.GraceSeconds > maxGrace {
			return errInvalid("grace_seconds: must be 0 to %d", maxGrace)
		}
		grace = time.Duration(*req.GraceSeconds) * time.Second
	}
	old, err := s.ownKey(r, u)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	next := storage.APIKey{UserID: u.ID, Name: old.Name, Tier: old.Tier, CreatedAt: now}
	if !old.ExpiresAt.IsZero() {
		next.ExpiresAt = now.Add(old.ExpiresAt.Sub(old.CreatedAt)) // the same lifetime, from now
	}
	raw, err := s.newKey(&next)
	if err != nil {
		return err
	}
	if _, err := s.db.RotateAPIKey(r.Context(), old.ID, next, now.Add(grace), now); errors.Is(err, storage.ErrInactive) {
		return errConflict("key is revoked, expired or already rotated")
	} else if err != nil {
		return err
	}
	s.known.add(next.Hash) // before the 201: a client may use the key at once
	s.keys.invalidate(old.Hash)
	s.keys.invalidate(next.Hash)
	s.audit(r, u.ID, actionKeyRotated, next.ID)
	next.Lineage, next.Replaces = old.Lineage, old.ID
	v := s.viewKey(next, now)
	v.Key = raw
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// ownKey loads the key named in the path if u owns it. Another user's key
// is not found, exactly like a key that does not exist.
func (s *Server) ownKey(r *http.Request, u *caller) (storage.APIKey, error) {
	k, err := s.db.APIKeyByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && k.UserID != u.ID) {
		return storage.APIKey{}, errNotFound("no such key")
	}
	return k, err
}
