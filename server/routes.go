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

	mux.Handle("POST /v1/auth/register", s.handle(s.handleRegister))
	mux.Handle("POST /v1/auth/login", s.handle(s.handleLogin))
	mux.Handle("POST /v1/auth/refresh", s.handle(s.handleRefresh))
	mux.Handle("POST /v1/auth/logout", s.handle(s.handleLogout))
	mux.Handle("GET /v1/me", s.requireUser(s.handleMe))
	mux.Handle("POST /v1/me/password", s.requireUser(s.handlePasswordChange))
	mux.Handle("GET /v1/me/sessions", s.requireUser(s.handleSessionList))
	mux.Handle("DELETE /v1/me/sessions", s.requireUser(s.handleSessionRevokeAll))
	mux.Handle("DELETE /v1/me/sessions/{id}", s.requireUser(s.handleSessionRevoke))
	mux.Handle("GET /.well-known/jwks.json", s.handle(s.handleJWKS))

	mux.Handle("POST /v1/keys", s.requireUser(s.handleKeyCreate))
	mux.Handle("GET /v1/keys", s.requireUser(s.handleKeyList))
	mux.Handle("GET /v1/keys/{id}", s.requireUser(s.handleKeyGet))
	mux.Handle("DELETE /v1/keys/{id}", s.requireUser(s.handleKeyRevoke))
	mux.Handle("POST /v1/keys/{id}/rotate", s.requireUser(s.handleKeyRotate))
	mux.Handle("GET /v1/keys/{id}/usage", s.requireUser(s.handleKeyUsage))

	mux.Handle("GET /v1/admin/users", s.requireAdmin(s.handleAdminUsers))
	mux.Handle("PATCH /v1/admin/users/{id}", s.requireAdmin(s.handleAdminUserUpdate))
	mux.Handle("GET /v1/admin/keys", s.requireAdmin(s.handleAdminKeys))
	mux.Handle("DELETE /v1/admin/keys/{id}", s.requireAdmin(s.handleAdminKeyRevoke))
	mux.Handle("GET /v1/admin/audit", s.requireAdmin(s.handleAdminAudit))
	mux.Handle("GET /v1/admin/backup", s.requireAdmin(s.handleAdminBackup))
	mux.Handle(adminSubtree, s.requireAdmin(s.handleAdminNoRoute))

	mux.Handle("GET /healthz", s.handle(s.handleHealth))
	mux.Handle("GET /{$}", s.handle(s.dash.handleIndex))
	mux.Handle("GET /assets/{file...}", s.handle(s.dash.handleAsset))

	mux.Handle("/v1/forward-auth", s.handle(s.handleForwardAuth))
	mux.Handle("POST /v1/keys/verify", s.handle(s.handleKeyVerify))

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
		mux.Handle(rt.Method+" "+rt.Path, s.requireKey(rt.Tiers, h))
	}

	// Everything else: a JSON 404, or a 405 naming the methods the path has.
	mux.Handle(rootSubtree, s.handle(s.handleNoRoute))

	h := s.recoverPanics(mux)
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
