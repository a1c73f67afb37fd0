package server

import (
	"fmt"
	"net/http"
)

// MFA policies: who must have two-factor authentication on before their
// sessions may do anything but turn it on (ASVS 6.3.3).
const (
	MFANone   = "none"   // nobody; each user chooses
	MFAAdmins = "admins" // administrators
	MFAAll    = "all"    // every user
)

// validMFAPolicy reports an error for a policy that is not one of the above
// ("" is MFANone).
func validMFAPolicy(p string) error {
	switch p {
	case "", MFANone, MFAAdmins, MFAAll:
		return nil
	}
	return fmt.Errorf("server: two-factor policy %q: want %q, %q or %q", p, MFANone, MFAAdmins, MFAAll)
}

// errMFAEnrol refuses a request of a session whose user must turn
// two-factor authentication on first. The header lets a client send the
// user to enrolment without parsing the detail.
var errMFAEnrol = &apiError{status: http.StatusForbidden, code: "forbidden",
	detail: "two-factor authentication is required on this server: turn it on first (POST /v1/me/mfa/totp)"}

// mfaRequiredOf reports whether the policy asks u's role for two-factor
// authentication.
func (s *Server) mfaRequiredOf(role string) bool {
	switch s.cfg.MFARequired {
	case MFAAll:
		return true
	case MFAAdmins:
		return role == "admin"
	}
	return false
}

// requireUser admits the callers of requireSignedIn who have two-factor
// authentication on when the policy asks it of them; the others get
// errMFAEnrol. The state is read on each request, as the user is, so
// turning it off takes effect at once.
func (s *Server) requireUser(fn func(http.ResponseWriter, *http.Request, *caller) error) http.Handler {
	return s.requireSignedIn(func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if s.mfaRequiredOf(c.Role) {
			m, err := s.db.MFA(r.Context(), c.ID)
			if err != nil {
				return err
			}
			if !m.Enabled {
				w.Header().Set(mfaHeader, "enrol")
				return errMFAEnrol
			}
		}
		return fn(w, r, c)
	})
}

// meView is GET /v1/me's user: also whether the policy asks this user for
// two-factor authentication.
type meView struct {
	userMFAView
	MFARequired bool `json:"mfa_required"`
}
