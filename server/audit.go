package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/keygate/keygate/storage"
)

// Audit actions. No event holds a password, token or key: only ids.
const (
	actionUserRegistered  = "user.registered"
	actionUserLogin       = "user.login"
	actionUserLoginFailed = "user.login_failed"
	actionUserUpdated     = "user.updated"
	actionPasswordChanged = "user.password_changed"
	actionSessionRevoked  = "session.revoked"
	actionSessionReuse    = "session.reuse_detected"
	actionKeyCreated      = "key.created"
	actionKeyRotated      = "key.rotated"
	actionKeyRevoked      = "key.revoked"
	actionBackup          = "database.backup"

	actionPasswordResetIssued = "user.password_reset_issued"
	actionPasswordReset       = "user.password_reset"
)

// audit records a security-relevant action, one event per target, in one
// transaction. The action itself has already been committed, so a failure
// here is logged rather than failing the request after the fact.
func (s *Server) audit(r *http.Request, actorID, action string, targetIDs ...string) {
	now, ip := s.now().UTC(), s.clientIP(r)
	events := make([]storage.Event, len(targetIDs))
	for i, target := range targetIDs {
		events[i] = storage.Event{Time: now, ActorID: actorID, Action: action, TargetID: target, IP: ip}
	}
	if len(events) == 0 {
		return
	}
	if _, err := s.db.AppendEvents(context.WithoutCancel(r.Context()), events...); err != nil {
		s.log.ErrorContext(r.Context(), "audit event not stored", slog.String("action", action), slog.Any("err", err))
	}
}

type eventView struct {
	ID       string `json:"id"`
	Time     string `json:"time"`
	ActorID  string `json:"actor_id"`
	Action   string `json:"action"`
	TargetID string `json:"target_id"`
	IP       string `json:"ip"`
}

// handleAdminAudit serves GET /v1/admin/audit?limit=&before=: events
// newest first; pass the last id of a page as before to get the next.
func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request, _ *caller) error {
	limit, err := queryInt(r, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	events, err := s.db.Events(r.Context(), r.URL.Query().Get("before"), limit)
	if errors.Is(err, storage.ErrInvalid) {
		return errInvalid("before: not an event id")
	} else if err != nil {
		return err
	}
	out := make([]eventView, len(events))
	for i, e := range events {
		out[i] = eventView{ID: e.ID, Time: timestamp(e.Time), ActorID: e.ActorID, Action: e.Action, TargetID: e.TargetID, IP: e.IP}
	}
	writeJSON(w, http.StatusOK, map[string][]eventView{"events": out})
	return nil
}
