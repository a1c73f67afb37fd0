package server

import "net/http"

type chatRequest struct {
	Message string `json:"message"`
}

// handleEcho serves every protected route without an upstream, such as
// the default POST /v1/chat: it echoes {"message"} back as
// {"reply","key_id","tier"}. The body is read and the reply written by
// hand into pooled buffers, so a request allocates nothing here.
func (s *Server) handleEcho(w http.ResponseWriter, r *http.Request, e *keyEntry, t *tier) error {
	in, out := getBuf(), getBuf()
	defer putBuf(in)
	defer putBuf(out)
	msg, err := s.readMessage(w, r, in)
	if err != nil {
		return err
	}
	*out = appendChatReply(*out, msg, e.id, t.name)
	writeRawJSON(w, http.StatusOK, *out)
	return nil
}

// readMessage reads r's {"message"} body into in and returns the message,
// which may be part of in. A body parseMessage does not recognise, or one
// that is too large or failed to arrive, goes through s.decode instead, so
// that encoding/json decides what it means and how it is refused.
func (s *Server) readMessage(w http.ResponseWriter, r *http.Request, in *[]byte) ([]byte, error) {
	var readErr error
	*in, readErr = readBody(r.Body, s.cfg.MaxBodyBytes, *in)
	if readErr == nil && int64(len(*in)) <= s.cfg.MaxBodyBytes {
		// The body is read to its end: closing it tells net/http so, which
		// then skips draining it once the handler is done.
		if r.Body != nil {
			_ = r.Body.Close()
		}
		if msg, ok := parseMessage(*in); ok {
			return msg, nil
		}
	}
	// parseMessage changes nothing unless it succeeds: in is the body as
	// read. The replay refers to in, which goes back to the pool after the
	// request, so r.Body is restored.
	orig := r.Body
	r.Body = replayBody(orig, *in, readErr)
	var req chatRequest
	err := s.decode(w, r, &req, true)
	r.Body = orig
	return []byte(req.Message), err
}

// appendChatReply appends what json.Encoder writes for
// {"reply":msg,"key_id":keyID,"tier":tier}.
func appendChatReply(dst, msg []byte, keyID, tier string) []byte {
	dst = append(dst, `{"reply":`...)
	dst = appendJSONString(dst, msg)
	dst = append(dst, `,"key_id":`...)
	dst = appendJSONString(dst, keyID)
	dst = append(dst, `,"tier":`...)
	dst = appendJSONString(dst, tier)
	return append(dst, "}\n"...)
}
