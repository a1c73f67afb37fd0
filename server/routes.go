package server

import (
	"fmt"
	"net/http"

	"github.com/keygate/keygate/limiter"
)

// table is what a configuration reload replaces as one: the tiers, the
// protected routes, and the route table built on them.
type table struct {
	tiers      map[string]*tier
	mux        *http.ServeMux // every route
	routeTable *http.ServeMux // the protected routes alone, for matching original requests
	handler    http.Handler   // mux behind the middleware
}

// newTable builds the whole route table. Protected routes come from the
// configuration, so a pattern that clashes with a built-in one is an error
// here rather than a panic in ServeMux.
func (s *Server) newTable(limits map[string]limiter.Limits, routes []Route) (t *table, err error) {
	tiers, err := newTiers(limits)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	t = &table{tiers: tiers, mux: mux, routeTable: http.NewServeMux()}
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("server: route table: %v", p)
		}
	}()
	// Every route counts its requests under its own pattern.
	add := func(pattern string, h http.Handler) { mux.Handle(pattern, s.metrics.routed(pattern, h)) }

	add("POST /v1/auth/register", s.handle(s.handleRegister))
	add("POST /v1/auth/login", s.handle(s.handleLogin))
	add("POST /v1/auth/refresh", s.handle(s.handleRefresh))
	add("POST /v1/auth/logout", s.handle(s.handleLogout))
	add("POST /v1/auth/password-reset", s.handle(s.handlePasswordReset))
	add("GET /v1/me", s.requireSignedIn(s.handleMe))
	add("POST /v1/me/password", s.requireSignedIn(s.handlePasswordChange))
	add("GET /v1/me/sessions", s.requireSignedIn(s.handleSessionList))
	add("DELETE /v1/me/sessions", s.requireSignedIn(s.handleSessionRevokeAll))
	add("DELETE /v1/me/sessions/{id}", s.requireSignedIn(s.handleSessionRevoke))
	add("POST /v1/me/mfa/totp", s.requireSignedIn(s.handleMFAEnrol))
	add("POST /v1/me/mfa/totp/confirm", s.requireSignedIn(s.handleMFAConfirm))
	add("POST /v1/me/mfa/disable", s.requireUser(s.handleMFADisable))
	add("POST /v1/me/mfa/recovery-codes", s.requireUser(s.handleMFARecoveryCodes))
	add("GET /.well-known/jwks.json", s.handle(s.handleJWKS))

	add("POST /v1/keys", s.requireUser(s.handleKeyCreate))
	add("GET /v1/keys", s.requireUser(s.handleKeyList))
	add("GET /v1/keys/{id}", s.requireUser(s.handleKeyGet))
	add("DELETE /v1/keys/{id}", s.requireUser(s.handleKeyRevoke))
	add("POST /v1/keys/{id}/rotate", s.requireUser(s.handleKeyRotate))
	add("GET /v1/keys/{id}/usage", s.requireUser(s.handleKeyUsage))

	add("GET /v1/admin/users", s.requireAdmin(s.handleAdminUsers))
	add("PATCH /v1/admin/users/{id}", s.requireAdmin(s.handleAdminUserUpdate))
	add("DELETE /v1/admin/users/{id}/sessions", s.requireAdmin(s.handleAdminUserSessionsRevoke))
	add("DELETE /v1/admin/users/{id}/mfa", s.requireAdmin(s.handleAdminUserMFADisable))
	add("DELETE /v1/admin/sessions", s.requireAdmin(s.handleAdminSessionsRevoke))
	add("POST /v1/admin/users/{id}/password-reset", s.requireAdmin(s.handleAdminPasswordReset))
	add("GET /v1/admin/keys", s.requireAdmin(s.handleAdminKeys))
	add("DELETE /v1/admin/keys/{id}", s.requireAdmin(s.handleAdminKeyRevoke))
	add("GET /v1/admin/audit", s.requireAdmin(s.handleAdminAudit))
	add("GET /v1/admin/backup", s.requireAdmin(s.handleAdminBackup))
	add(adminSubtree, s.requireAdmin(s.handleAdminNoRoute))

	add("GET /healthz", s.handle(s.handleHealth))
	if s.cfg.Metrics {
		add("GET /metrics", s.MetricsHandler())
	}
	add("GET /{$}", s.handle(s.dash.handleIndex))
	add("GET /assets/{file...}", s.handle(s.dash.handleAsset))

	add("/v1/forward-auth", s.handle(s.handleForwardAuth))
	add("POST /v1/keys/verify", s.handle(s.handleKeyVerify))

	// The protected routes, in the main table and in the one forward auth
	// and verify match original requests against.
	for _, rt := range routes {
		if err := checkRouteTiers(rt, tiers); err != nil {
			return nil, err
		}
		t.routeTable.Handle(rt.Method+" "+rt.Path, &routeRef{tiers: rt.Tiers})
		h := s.handleEcho
		if rt.Upstream != "" {
			if h, err = s.newProxy(rt); err != nil {
				return nil, err
			}
		}
		add(rt.Method+" "+rt.Path, s.requireKey(rt.Tiers, h))
	}

	// Everything else: a JSON 404, or a 405 naming the methods the path has.
	// It counts as "other", like anything the mux answers itself.
	mux.Handle(rootSubtree, s.handle(s.handleNoRoute))

	h := s.metrics.instrument(s.recoverPanics(mux))
	if s.cfg.AccessLog != nil {
		h = accessLog(s.cfg.AccessLog, s.now, h)
	}
	t.handler = s.withRequestID(h)
	return t, nil
}

func checkRouteTiers(rt Route, tiers map[string]*tier) error {
	for _, name := range rt.Tiers {
		if tiers[name] == nil {
			return fmt.Errorf("server: route %s %s: unknown tier %q", rt.Method, rt.Path, name)
		}
	}
	return nil
}

// current is the table serving requests now.
func (s *Server) current() *table { return s.table.Load() }

// Reload replaces the tiers and the protected routes. Requests already
// being served finish under the old ones; the next request sees the new
// ones, and keys are checked against the new limits from then on. On an
// error nothing changes.
func (s *Server) Reload(tiers map[string]limiter.Limits, routes []Route) error {
	t, err := s.newTable(tiers, routes)
	if err != nil {
		return err
	}
	s.table.Store(t)
	return nil
}

// The catch-all patterns: a request they match matched no real route.
const (
	rootSubtree  = "/"
	adminSubtree = "/v1/admin/"
)

// handle adapts a handler that returns an error to http.Handler; the error
// is written by writeError.
func (s *Server) handle(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}
