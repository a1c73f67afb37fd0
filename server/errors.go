package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/storage"
)

// apiError is an error with the status, code and detail a client may see.
// Handlers return one for every refusal they decide themselves; errors from
// the leaf packages are mapped in apiErrorFor.
type apiError struct {
	status     int
	code       string
	detail     string
	retryAfter time.Duration // 429 only
	allow      string        // 405 only
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.detail) }

func errInvalid(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request", detail: fmt.Sprintf(format, args...)}
}

func errUnauthorized(detail string) error {
	if detail == errUnknownKey.detail {
		return errUnknownKey
	}
	return &apiError{status: http.StatusUnauthorized, code: "unauthorized", detail: detail}
}

// errUnknownKey is the answer to a key that matches none, which a client
// guessing keys gets for every request: it is made once, not per request.
// An apiError is never modified once made, so one can be shared.
var errUnknownKey = &apiError{status: http.StatusUnauthorized, code: "unauthorized", detail: "invalid API key"}

func errForbidden(detail string) error {
	return &apiError{status: http.StatusForbidden, code: "forbidden", detail: detail}
}

func errNotFound(detail string) error {
	return &apiError{status: http.StatusNotFound, code: "not_found", detail: detail}
}

func errConflict(detail string) error {
	return &apiError{status: http.StatusConflict, code: "conflict", detail: detail}
}

func errRateLimited(detail string, retryAfter time.Duration) error {
	return &apiError{status: http.StatusTooManyRequests, code: codeRateLimitedError, detail: detail, retryAfter: retryAfter}
}

func errBadGateway(detail string) error {
	return &apiError{status: http.StatusBadGateway, code: "bad_gateway", detail: detail}
}

func errGatewayTimeout(detail string) error {
	return &apiError{status: http.StatusGatewayTimeout, code: "gateway_timeout", detail: detail}
}

var errInternal = &apiError{status: http.StatusInternalServerError, code: "internal", detail: "internal server error"}

// apiErrorFor maps any error to what the client sees. Anything not known
// here is a 500 whose detail says nothing about the cause.
func apiErrorFor(err error) *apiError {
	// Handlers return an *apiError unwrapped nearly always, and asking
	// errors.As would cost an allocation.
	if ae, ok := err.(*apiError); ok {
		return ae
	}
	return apiErrorForWrapped(err)
}

func apiErrorForWrapped(err error) *apiError {
	var ae *apiError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &tooBig):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "payload_too_large",
			detail: fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)}
	case errors.Is(err, storage.ErrNotFound):
		return errNotFound("not found").(*apiError)
	case errors.Is(err, storage.ErrConflict):
		return errConflict("conflict").(*apiError)
	case errors.Is(err, auth.ErrPasswordTooShort), errors.Is(err, auth.ErrPasswordTooLong):
		return errInvalid("password: must be %d to %d bytes", auth.MinPasswordBytes, auth.MaxPasswordBytes).(*apiError)
	case errors.Is(err, auth.ErrCommonPassword):
		return errInvalid("password: one of the most common passwords; choose another").(*apiError)
	case errors.Is(err, auth.ErrInvalidEmail):
		return errInvalid("email: not a valid email address").(*apiError)
	case errors.Is(err, auth.ErrTokenExpired):
		return errUnauthorized("token expired").(*apiError)
	case errors.Is(err, auth.ErrInvalidToken):
		return errUnauthorized("invalid token").(*apiError)
	}
	return errInternal
}

// writeError is the one place an error becomes a response, and the one
// place a server-side error is logged.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if lr, ok := err.(limitRefusal); ok {
		// A key over its limit, the commonest refusal under load:
		// checkKey has set Retry-After with the rate-limit headers.
		writeErrorBody(w, http.StatusTooManyRequests, codeRateLimitedError, *lr.detail)
		return
	}
	ae := apiErrorFor(err)
	if ae.status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", slog.String("request_id", requestID(w)),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	h := w.Header()
	switch ae.status {
	case http.StatusUnauthorized:
		h["Www-Authenticate"] = bearerChallenge[:1:1]
	case http.StatusTooManyRequests:
		h["Retry-After"] = retryAfterValue(wholeSeconds(ae.retryAfter, 1))
	case http.StatusMethodNotAllowed:
		h.Set("Allow", ae.allow)
	}
	writeErrorBody(w, ae.status, ae.code, ae.detail)
}

// codeRateLimitedError is the error code of every 429.
const codeRateLimitedError = "rate_limited"

// writeErrorBody writes {"error":code,"detail":detail} with status.
func writeErrorBody(w http.ResponseWriter, status int, code, detail string) {
	buf := getBuf()
	defer putBuf(buf)
	*buf = appendErrorBody(*buf, code, detail)
	writeRawJSON(w, status, *buf)
}

// appendErrorBody appends what json.Encoder writes for
// {"error":code,"detail":detail}.
func appendErrorBody(dst []byte, code, detail string) []byte {
	dst = append(dst, `{"error":`...)
	dst = appendJSONString(dst, code)
	dst = append(dst, `,"detail":`...)
	dst = appendJSONString(dst, detail)
	return append(dst, "}\n"...)
}

// bearerChallenge is the WWW-Authenticate of every 401, shared like
// jsonContentType.
var bearerChallenge = []string{`Bearer realm="keygate"`}

// retryAfterValue is the Retry-After header value for secs seconds.
func retryAfterValue(secs int64) []string {
	hv := getHeaderValues()
	defer putHeaderValues(hv)
	return hv.number(secs)
}

// wholeSeconds rounds d up to whole seconds, and to at least min.
func wholeSeconds(d time.Duration, min int64) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < min {
		return min
	}
	return s
}
