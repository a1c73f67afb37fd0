package server

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/keygate/keygate/storage"
)

// handleAdminUsers serves GET /v1/admin/users?limit=&after=: users in
// email order; pass the last email of a page as after for the next.
func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request, _ *caller) error {
	limit, err := queryInt(r, "limit", 0, 1, 1000) // 0: all
	if err != nil {
		return err
	}
	users, err := s.db.Users(r.Context(), r.URL.Query().Get("after"), limit)
	if err != nil {
		return err
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	mfa, err := s.db.MFAEnabled(r.Context(), ids...)
	if err != nil {
		return err
	}
	out := make([]userMFAView, len(users))
	for i, u := range users {
		out[i] = userMFAView{viewUser(u), mfa[u.ID]}
	}
	writeJSON(w, http.StatusOK, map[string][]userMFAView{"users": out})
	return nil
}

type userPatch struct {
	Tiers    *[]string `json:"tiers"`
	Disabled *bool     `json:"disabled"`
	Role     *string   `json:"role"`
}

// validate checks a patch against the tier table, and refuses an admin's
// locking themselves out.
func (p userPatch) validate(s *Server, self bool) error {
	if p.Tiers != nil {
		for _, t := range *p.Tiers {
			if _, ok := s.current().tiers[t]; !ok {
				return errInvalid("tiers: unknown tier %q", t)
			}
		}
	}
	if p.Role != nil && *p.Role != "user" && *p.Role != "admin" {
		return errInvalid(`role: must be "user" or "admin"`)
	}
	if self && ((p.Disabled != nil && *p.Disabled) || (p.Role != nil && *p.Role != "admin")) {
		return errConflict("an administrator cannot disable or demote their own account")
	}
	return nil
}

// handleAdminUserUpdate serves PATCH /v1/admin/users/{id}. The change
// applies from the next request: a disabled user's sessions are revoked
// and their keys refused, changed tiers apply to existing keys.
func (s *Server) handleAdminUserUpdate(w http.ResponseWriter, r *http.Request, admin *caller) error {
	var p userPatch
	if err := s.decode(w, r, &p, false); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := p.validate(s, id == admin.ID); err != nil {
		return err
	}
	u, err := s.db.UpdateUser(r.Context(), id, func(u *storage.User) error {
		if p.Tiers != nil {
			u.Tiers = slices.Compact(slices.Sorted(slices.Values(*p.Tiers)))
		}
		if p.Disabled != nil {
			u.Disabled = *p.Disabled
		}
		if p.Role != nil {
			u.Role = *p.Role
		}
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return errNotFound("no such user")
	} else if err != nil {
		return err
	}
	s.keys.invalidateUser(u.ID)
	s.audit(r, admin.ID, actionUserUpdated, u.ID)
	if u.Disabled {
		if err := s.revokeUserSessions(r, admin.ID, u.ID, ""); err != nil {
			return err
		}
	}
	m, err := s.db.MFA(r.Context(), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]userMFAView{"user": {viewUser(u), m.Enabled}})
	return nil
}

// handleAdminUserMFADisable serves DELETE /v1/admin/users/{id}/mfa: turn
// a user's two-factor authentication off, e.g. after they lost the device,
// and sign them out everywhere. For a user without it, nothing happens.
func (s *Server) handleAdminUserMFADisable(w http.ResponseWriter, r *http.Request, admin *caller) error {
	u, err := s.db.UserByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return errNotFound("no such user")
	} else if err != nil {
		return err
	}
	wasOn, err := s.db.DisableMFA(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if wasOn {
		s.audit(r, admin.ID, actionMFADisabled, u.ID)
		if err := s.revokeUserSessions(r, admin.ID, u.ID, ""); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleAdminUserSessionsRevoke serves DELETE /v1/admin/users/{id}/sessions:
// sign a user out everywhere without disabling them, e.g. after their
// password leaked (ASVS 7.4.5). Their keys keep working.
func (s *Server) handleAdminUserSessionsRevoke(w http.ResponseWriter, r *http.Request, admin *caller) error {
	u, err := s.db.UserByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return errNotFound("no such user")
	} else if err != nil {
		return err
	}
	if err := s.revokeUserSessions(r, admin.ID, u.ID, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleAdminSessionsRevoke serves DELETE /v1/admin/sessions: sign
// everyone out but the admin asking, e.g. after a suspected leak (ASVS
// 7.4.5). Keys keep working.
func (s *Server) handleAdminSessionsRevoke(w http.ResponseWriter, r *http.Request, admin *caller) error {
	ids, err := s.db.RevokeAllSessions(r.Context(), admin.SessionID, s.now().UTC())
	if err != nil {
		return err
	}
	s.sessions.remove(ids...)
	s.audit(r, admin.ID, actionSessionRevoked, ids...)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// adminKeyView is a Key with its owner, for administrators.
type adminKeyView struct {
	keyView
	OwnerID string `json:"owner_id"`
}

// handleAdminKeys serves GET /v1/admin/keys?user_id=.
func (s *Server) handleAdminKeys(w http.ResponseWriter, r *http.Request, _ *caller) error {
	var keys []storage.APIKey
	var err error
	if userID := r.URL.Query().Get("user_id"); userID != "" {
		keys, err = s.db.APIKeysByUser(r.Context(), userID)
	} else {
		keys, err = s.db.AllAPIKeys(r.Context())
	}
	if err != nil && !errors.Is(err, storage.ErrInvalid) {
		return err
	}
	now := s.now()
	out := make([]adminKeyView, len(keys))
	for i, k := range keys {
		out[i] = adminKeyView{keyView: s.viewKey(k, now), OwnerID: k.UserID}
	}
	writeJSON(w, http.StatusOK, map[string][]adminKeyView{"keys": out})
	return nil
}

// handleAdminKeyRevoke serves DELETE /v1/admin/keys/{id}.
func (s *Server) handleAdminKeyRevoke(w http.ResponseWriter, r *http.Request, admin *caller) error {
	k, err := s.db.RevokeAPIKey(r.Context(), r.PathValue("id"), s.now().UTC())
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return errNotFound("no such key")
	} else if err != nil {
		return err
	}
	s.keys.invalidate(k.Hash)
	s.audit(r, admin.ID, actionKeyRevoked, k.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleAdminNoRoute answers an unknown path under /v1/admin/ for admins;
// everyone else got 401 or 403 before finding out it does not exist.
func (s *Server) handleAdminNoRoute(w http.ResponseWriter, r *http.Request, _ *caller) error {
	return s.handleNoRoute(w, r)
}

// handleAdminBackup serves GET /v1/admin/backup: a consistent copy of the
// database. The copy is made to a temporary file first and synced, then
// streamed, so a slow download holds no transaction open.
func (s *Server) handleAdminBackup(w http.ResponseWriter, r *http.Request, admin *caller) error {
	dir, err := os.MkdirTemp(filepath.Dir(s.db.Path()), ".keygate-backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keygate.db")
	if _, err := s.db.Snapshot(r.Context(), path); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	s.audit(r, admin.ID, actionBackup, "")
	name := "keygate-" + s.now().UTC().Format("20060102-150405") + ".db"
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	http.ServeContent(w, r, name, s.now(), f)
	return nil
}
