package server

import (
	"net/http"
	"net/url"
)

// routeRef marks a protected route in the route table used to match an
// original request, for forward auth and the verify API.
type routeRef struct{ tiers []string }

func (routeRef) ServeHTTP(http.ResponseWriter, *http.Request) {}

// admitted returns the tiers the route matching method and uri admits,
// and false when no protected route matches.
func (s *Server) admitted(method, uri string) ([]string, bool) {
	u, err := url.ParseRequestURI(uri)
	if err != nil || method == "" {
		return nil, false
	}
	h, _ := s.current().routeTable.Handler(&http.Request{Method: method, URL: u, Host: "keygate"})
	ref, ok := h.(*routeRef)
	if !ok {
		return nil, false
	}
	return ref.tiers, true
}

// handleForwardAuth serves any method on /v1/forward-auth, for nginx
// auth_request, Traefik forwardAuth and Caddy forward_auth: the original
// request's method and URI pick the route, and the presented key is
// checked against it and counted exactly as a direct call would be.
func (s *Server) handleForwardAuth(w http.ResponseWriter, r *http.Request) error {
	method, uri, ok := originalRequest(r)
	if !ok {
		return errForbidden("X-Forwarded-Method/-Uri and X-Original-Method/-URI disagree")
	}
	tiers, ok := s.admitted(method, uri)
	if !ok {
		return errForbidden("no protected route matches the original request (" + method + " " + truncate(uri, 200) + ")")
	}
	v, err := s.checkKey(w, r, tiers)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("X-Keygate-Key-Id", v.key.id)
	h.Set("X-Keygate-User-Id", v.key.userID)
	h.Set("X-Keygate-Tier", v.tier.name)
	w.WriteHeader(http.StatusOK)
	return nil
}

// originalRequest reads the method and URI a proxy says it is asking
// about: Traefik and Caddy send X-Forwarded-Method and -Uri, nginx is
// usually configured to send X-Original-Method and -URI. Proxies pass the
// client's own headers on too, so a client could add the pair its proxy
// does not set: when both pairs are present they must agree, or ok is
// false.
func originalRequest(r *http.Request) (method, uri string, ok bool) {
	method, ok = agree(r.Header.Get("X-Forwarded-Method"), r.Header.Get("X-Original-Method"))
	if !ok {
		return "", "", false
	}
	uri, ok = agree(r.Header.Get("X-Forwarded-Uri"), r.Header.Get("X-Original-Uri"))
	return method, uri, ok
}

// agree returns whichever of a and b is set, and false if both are set and
// differ.
func agree(a, b string) (string, bool) {
	switch {
	case a == "":
		return b, true
	case b == "" || a == b:
		return a, true
	}
	return "", false
}
