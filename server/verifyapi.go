package server

import "net/http"

type verifyRequest struct {
	Key    string `json:"key"`
	Method string `json:"method"`
	Path   string `json:"path"`
}

type limitView struct {
	Limit     int64 `json:"limit"`
	Remaining int64 `json:"remaining"`
	Reset     int64 `json:"reset"` // whole seconds until the limit resets
}

// verificationView is the API's Verification.
type verificationView struct {
	Valid   bool        `json:"valid"`
	Code    string      `json:"code"`
	KeyID   string      `json:"key_id,omitempty"`
	OwnerID string      `json:"owner_id,omitempty"`
	Tier    string      `json:"tier,omitempty"`
	Limits  *limitsView `json:"limits,omitempty"`
}

type limitsView struct {
	Minute limitView `json:"minute"`
	Day    limitView `json:"day"`
}

// handleKeyVerify serves POST /v1/keys/verify: for services that check
// keys themselves. Every well-formed request gets 200 and a code; with a
// method and path, the route table decides the tiers admitted. A valid
// verification counts against the key's limits like a call would.
func (s *Server) handleKeyVerify(w http.ResponseWriter, r *http.Request) error {
	var req verifyRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	switch {
	case req.Key == "":
		return errInvalid("key: required")
	case (req.Method == "") != (req.Path == ""):
		return errInvalid("method and path: give both, or neither")
	}
	var tiers []string // nil: any tier the owner holds
	if req.Path != "" {
		var ok bool
		if tiers, ok = s.admitted(req.Method, req.Path); !ok {
			tiers = []string{} // no route: no tier is admitted
		}
	}
	v, err := s.verify(r.Context(), req.Key, tiers, s.now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewVerification(v))
	return nil
}

func viewVerification(v verification) verificationView {
	out := verificationView{Valid: v.code == codeValid, Code: v.code}
	if v.key != nil {
		out.KeyID, out.OwnerID, out.Tier = v.key.id, v.key.userID, v.key.tier
	}
	if v.limited {
		d := v.decision
		out.Limits = &limitsView{
			Minute: limitView{int64(d.Limits.PerMinute), int64(d.MinuteRemaining), wholeSeconds(d.MinuteReset, 0)},
			Day:    limitView{d.Limits.PerDay, d.DayRemaining, wholeSeconds(d.DayReset, 0)},
		}
	}
	return out
}
