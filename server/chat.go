package server

import "net/http"

type chatRequest struct {
	Message string `json:"message"`
}

type chatReply struct {
	Reply string `json:"reply"`
	KeyID string `json:"key_id"`
	Tier  string `json:"tier"`
}

// handleEcho serves every protected route without an upstream, such as
// the default POST /v1/chat: it echoes {"message"} back.
func (s *Server) handleEcho(w http.ResponseWriter, r *http.Request, e *keyEntry, t *tier) error {
	var req chatRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, chatReply{Reply: req.Message, KeyID: e.id, Tier: t.name})
	return nil
}
