package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// decode reads a request body that must hold exactly one JSON object with
// no fields but those of v. The body is capped at the configured size.
// An empty body is refused unless optional is set, in which case v keeps
// its zero value.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) && optional {
			return nil
		}
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return errInvalid("request body must hold a single JSON object")
	}
	return nil
}

// decodeError turns what encoding/json reports into a 400 that says which
// field or byte was wrong, or passes an oversized body through for the 413.
func decodeError(err error) error {
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return errInvalid("request body must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errInvalid("malformed JSON: unexpected end of body")
	case errors.As(err, &syntax):
		return errInvalid("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return errInvalid("request body must be a JSON object")
		}
		return errInvalid("%s: must be %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errInvalid("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return errInvalid("malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	if strings.HasPrefix(goKind, "int") || strings.HasPrefix(goKind, "uint") {
		return "a whole number in range"
	}
	return "a number"
}

// writeJSON writes v as the JSON response body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	setJSONHeaders(w.Header())
	w.WriteHeader(status)
	// The status is sent: a failed write means the client went away, and
	// there is no one left to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// writeRawJSON writes body, JSON encoded by hand and ending in a newline
// as json.Encoder's output does, with the given status.
func writeRawJSON(w http.ResponseWriter, status int, body []byte) {
	setJSONHeaders(w.Header())
	w.WriteHeader(status)
	_, _ = w.Write(body) // as in writeJSON
}

// Header values every JSON response carries. They are shared by all
// responses and must never be modified in place; a slice of capacity one
// means an Add elsewhere copies it rather than writing into it.
var (
	jsonContentType = []string{"application/json"}
	noSniff         = []string{"nosniff"}
)

func setJSONHeaders(h http.Header) {
	h["Content-Type"] = jsonContentType[:1:1]
	h["X-Content-Type-Options"] = noSniff[:1:1]
}

// jsonBufs holds the buffers request bodies are read into and responses
// encoded into by hand, so the hot path allocates neither. A buffer is
// returned once nothing refers to it: ResponseWriter.Write keeps no
// reference to what it is given.
var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBuf is the largest buffer kept for reuse; a rare large body
// should not pin its memory in the pool.
const maxPooledBuf = 16 << 10

func getBuf() *[]byte { return jsonBufs.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	jsonBufs.Put(b)
}

// readBody appends body to buf up to limit bytes and one more, so that
// len(buf) > limit says the body is too large. The error is any but
// io.EOF that reading returned.
func readBody(body io.Reader, limit int64, buf []byte) ([]byte, error) {
	if body == nil {
		return buf, nil
	}
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, room(limit, len(buf), max(cap(buf), 512)))
		}
		n, err := body.Read(buf[len(buf) : len(buf)+room(limit, len(buf), cap(buf)-len(buf))])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		} else if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// maxDrained is the largest declared body drainBody reads; net/http
// drains larger ones itself, or gives up on the connection.
const maxDrained = 4 << 10

// drainBody reads to its end the small body of a request answered without
// it, and closes it. net/http would read it anyway, after the handler, to
// keep the connection; reading it here into a pooled buffer spares the
// allocation its way costs. A client that sent Expect: 100-continue is
// left alone: reading would ask it for a body that net/http, refusing,
// does not ask for.
func drainBody(r *http.Request) {
	if r.Body == nil || r.ContentLength <= 0 || r.ContentLength > maxDrained || len(r.Header["Expect"]) > 0 {
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	var err error
	if *buf, err = readBody(r.Body, r.ContentLength, *buf); err == nil {
		_ = r.Body.Close()
	}
}

// room is n, or less if fewer than n bytes more than have would take a
// body past limit and one byte more. have <= limit; a limit near the
// largest int64 does not overflow.
func room(limit int64, have, n int) int {
	if rest := limit - int64(have); rest < int64(n) {
		return int(rest) + 1
	}
	return n
}

// replayedBody is a request body that was read already, given back to be
// read again: the bytes read, then the error reading them ended with.
type replayedBody struct {
	io.Reader
	io.Closer
}

func replayBody(orig io.ReadCloser, read []byte, err error) io.ReadCloser {
	if err == nil {
		err = io.EOF
	}
	return replayedBody{io.MultiReader(bytes.NewReader(read), errReader{err}), orig}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// queryInt reads the whole-number query parameter name, between lo and
// hi; def when it is absent.
func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errInvalid("%s: must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}
