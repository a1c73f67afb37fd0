package server

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// requestIDs makes the ids of requests that bring none: a random prefix
// per process and a counter, so they are unique without costing a read of
// the random source per request.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return &requestIDs{prefix: hex.EncodeToString(b) + "-"}
}

// next returns a new id as a header value made from hv.
func (ids *requestIDs) next(hv *headerValues) []string {
	var buf [32]byte
	out := append(buf[:0], ids.prefix...)
	return hv.value(hv.str(strconv.AppendUint(out, ids.n.Add(1), 36)))
}

// validRequestID says whether an incoming X-Request-Id is kept: 1 to 128
// characters that are safe in a header and a log line.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// withRequestID gives every response an X-Request-Id: the client's own if
// it is well-formed, else a new one. Log lines about the request read it
// back from the response headers (requestID), so it costs no context.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header["X-Request-Id"]; len(id) > 0 && validRequestID(id[0]) {
			w.Header()["X-Request-Id"] = id[:1:1]
		} else {
			hv := getHeaderValues()
			w.Header()["X-Request-Id"] = s.requestIDs.next(hv)
			putHeaderValues(hv)
		}
		next.ServeHTTP(w, r)
	})
}

// requestID is the id withRequestID gave the response being written.
func requestID(w http.ResponseWriter) string { return w.Header().Get("X-Request-Id") }

// accessLog writes one JSON line per request to log, after it is served.
func accessLog(log *slog.Logger, now func() time.Time, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", requestID(w)),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", now().Sub(start)),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// statusWriter remembers the final status and size of a response. It unwraps
// for http.ResponseController, so flushing and deadlines still work.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	// An informational 1xx is followed by the real status, except for 101.
	if !w.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
