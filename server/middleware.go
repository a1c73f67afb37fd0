package server

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
)

// recoverPanics turns a panic in a handler into a logged 500, so a bug
// costs one request rather than the connection. http.ErrAbortHandler is
// re-raised: it is net/http's way of aborting a response on purpose.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "panic serving request", slog.String("request_id", requestID(w)),
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			s.writeError(w, r, errInternal)
		}()
		next.ServeHTTP(w, r)
	})
}

// handleNoRoute serves every request no other pattern matched: a 405 with
// Allow when the path exists for another method, else a 404.
func (s *Server) handleNoRoute(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	methods := [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	for _, m := range methods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.current().mux.Handler(probe); pattern != rootSubtree && pattern != adminSubtree && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return errNotFound("no such route: " + r.Method + " " + r.URL.Path)
	}
	return &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
		detail: r.Method + " is not allowed here", allow: strings.Join(allow, ", ")}
}
