package server

import (
	"errors"
	"net/http"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/storage"
)

// Two-factor authentication (TOTP, RFC 6238) with recovery codes, ASVS
// 6.3.3. The secret and the used time steps live in storage's mfa bucket;
// every attempt at a code shares the login backoff of (address, email), so
// six digits cannot be searched.

// mfaIssuer names keygate in authenticator apps.
const mfaIssuer = "keygate"

// mfaHeader tells a client that the password was right and a code is
// needed, without its parsing the detail.
const mfaHeader = "X-Keygate-MFA"

// Audit actions of two-factor authentication.
const (
	actionMFAEnabled       = "user.mfa_enabled"
	actionMFADisabled      = "user.mfa_disabled"
	actionMFARecoveryCodes = "user.mfa_recovery_codes_replaced"
	actionMFARecoveryUsed  = "user.mfa_recovery_code_used"
)

// errMFARequired answers a login with the right password and no code. Only
// someone who knows the password learns that two-factor authentication is on.
var errMFARequired = &apiError{status: http.StatusUnauthorized, code: "unauthorized",
	detail: `mfa_required: send the 6-digit code from your authenticator app (or a recovery code) as "code"`}

// userMFAView is the API's User with whether two-factor authentication is on.
type userMFAView struct {
	userView
	MFAEnabled bool `json:"mfa_enabled"`
}

// loginMFA is the second factor of a login whose password matched: nil for
// a user without two-factor authentication (code is ignored), else
// errMFARequired without a code and errBadLogin for a wrong or used one.
func (s *Server) loginMFA(r *http.Request, u storage.User, code string) error {
	m, err := s.db.MFA(r.Context(), u.ID)
	if err != nil || !m.Enabled {
		return err
	}
	if code == "" {
		return errMFARequired
	}
	if ok, err := s.useCode(r, u.ID, m, code); err != nil {
		return err
	} else if !ok {
		return errBadLogin
	}
	return nil
}

// useCode checks a TOTP or recovery code of a user whose two-factor
// authentication is on, and spends it: the TOTP code's time step, or the
// recovery code. It reports false for a malformed, wrong or used code.
func (s *Server) useCode(r *http.Request, userID string, m storage.MFA, code string) (bool, error) {
	kind, norm, err := auth.ParseCode(code)
	if err != nil {
		return false, nil
	}
	if kind == auth.CodeTOTP {
		step, ok := auth.MatchTOTP(m.Secret, norm, s.now())
		if !ok {
			return false, nil
		}
		err = s.db.AcceptTOTPStep(r.Context(), userID, m.Secret, step)
	} else {
		err = s.db.SpendRecoveryCode(r.Context(), userID, auth.HashRecoveryCode(norm))
		if err == nil {
			s.audit(r, userID, actionMFARecoveryUsed, userID)
		}
	}
	if errors.Is(err, storage.ErrCodeUsed) || errors.Is(err, storage.ErrMFADisabled) {
		return false, nil
	}
	return err == nil, err
}

// mfaAttempt returns the backoff key of the caller's attempts, or a 429
// while they must wait.
func (s *Server) mfaAttempt(r *http.Request, c *caller) (string, error) {
	pair := s.clientIP(r) + " " + c.Email
	if wait := s.loginFails.CheckAt(pair, s.now()); wait > 0 {
		return "", tooMany("failed attempts", wait)
	}
	return pair, nil
}

// mfaPassword checks the caller's password: a wrong one is a 403 and a
// failure for the backoff, as on POST /v1/me/password.
func (s *Server) mfaPassword(c *caller, pair, password string) error {
	err := s.passwords.Check(c.PasswordHash, password)
	if errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrPasswordTooShort) || errors.Is(err, auth.ErrPasswordTooLong) {
		s.loginFails.FailAt(pair, s.now())
		return errForbidden("password: incorrect")
	}
	return err
}

// mfaProof checks what turning two-factor authentication off or replacing
// the recovery codes takes: the password, two-factor on (409 otherwise) and
// a code, which is spent. It returns the backoff key, to reset on success.
func (s *Server) mfaProof(r *http.Request, c *caller, password, code string) (string, error) {
	if code == "" {
		return "", errInvalid("code: required (a 6-digit code or a recovery code)")
	}
	pair, err := s.mfaAttempt(r, c)
	if err != nil {
		return "", err
	}
	if err := s.mfaPassword(c, pair, password); err != nil {
		return "", err
	}
	m, err := s.db.MFA(r.Context(), c.ID)
	if err != nil {
		return "", err
	}
	if !m.Enabled {
		return "", errConflict("two-factor authentication is not on")
	}
	if ok, err := s.useCode(r, c.ID, m, code); err != nil {
		return "", err
	} else if !ok {
		s.loginFails.FailAt(pair, s.now())
		return "", errForbidden("code: incorrect or already used")
	}
	return pair, nil
}

// handleMFAEnrol serves POST /v1/me/mfa/totp: with the password, a new
// pending secret (replacing any earlier one) to be confirmed with a code.
func (s *Server) handleMFAEnrol(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req struct {
		Password string `json:"password"`
	}
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	pair, err := s.mfaAttempt(r, c)
	if err != nil {
		return err
	}
	if err := s.mfaPassword(c, pair, req.Password); err != nil {
		return err
	}
	secret, err := auth.NewTOTPSecret(s.rand)
	if err != nil {
		return err
	}
	if err := s.db.SetPendingTOTP(r.Context(), c.ID, secret); errors.Is(err, storage.ErrMFAEnabled) {
		return errConflict("two-factor authentication is already on")
	} else if err != nil {
		return err
	}
	s.loginFails.Reset(pair)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{
		"secret":      auth.EncodeTOTPSecret(secret),
		"otpauth_url": auth.TOTPURL(mfaIssuer, c.Email, secret),
	})
	return nil
}

// handleMFAConfirm serves POST /v1/me/mfa/totp/confirm: a code of the
// pending secret turns two-factor authentication on, answers the recovery
// codes (once) and signs out every other session of the user.
func (s *Server) handleMFAConfirm(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req struct {
		Code string `json:"code"`
	}
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	kind, code, err := auth.ParseCode(req.Code)
	if err != nil || kind != auth.CodeTOTP {
		return errInvalid("code: must be the 6-digit code from your authenticator app")
	}
	pair, err := s.mfaAttempt(r, c)
	if err != nil {
		return err
	}
	m, err := s.db.MFA(r.Context(), c.ID)
	switch {
	case err != nil:
		return err
	case m.Enabled:
		return errConflict("two-factor authentication is already on")
	case len(m.PendingSecret) == 0:
		return errInvalid("no pending enrolment: start with POST /v1/me/mfa/totp")
	}
	step, ok := auth.MatchTOTP(m.PendingSecret, code, s.now())
	if !ok {
		s.loginFails.FailAt(pair, s.now())
		return errForbidden("code: incorrect")
	}
	codes, hashes, err := auth.NewRecoveryCodes(s.rand)
	if err != nil {
		return err
	}
	err = s.db.EnableTOTP(r.Context(), c.ID, m.PendingSecret, step, hashes, s.now())
	if errors.Is(err, storage.ErrNoPendingMFA) || errors.Is(err, storage.ErrMFAEnabled) {
		return errConflict("the enrolment changed meanwhile; start again")
	} else if err != nil {
		return err
	}
	s.loginFails.Reset(pair)
	s.audit(r, c.ID, actionMFAEnabled, c.ID)
	if err := s.revokeUserSessions(r, c.ID, c.ID, c.SessionID); err != nil {
		return err
	}
	return writeRecoveryCodes(w, codes)
}

func writeRecoveryCodes(w http.ResponseWriter, codes []string) error {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string][]string{"recovery_codes": codes})
	return nil
}

type mfaProofRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

// handleMFADisable serves POST /v1/me/mfa/disable: with the password and a
// code, two-factor authentication off.
func (s *Server) handleMFADisable(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req mfaProofRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	pair, err := s.mfaProof(r, c, req.Password, req.Code)
	if err != nil {
		return err
	}
	if _, err := s.db.DisableMFA(r.Context(), c.ID); err != nil {
		return err
	}
	s.loginFails.Reset(pair)
	s.audit(r, c.ID, actionMFADisabled, c.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleMFARecoveryCodes serves POST /v1/me/mfa/recovery-codes: with the
// password and a code, a new set of recovery codes; the old set is void.
func (s *Server) handleMFARecoveryCodes(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req mfaProofRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	pair, err := s.mfaProof(r, c, req.Password, req.Code)
	if err != nil {
		return err
	}
	codes, hashes, err := auth.NewRecoveryCodes(s.rand)
	if err != nil {
		return err
	}
	if err := s.db.ReplaceRecoveryCodes(r.Context(), c.ID, hashes); errors.Is(err, storage.ErrMFADisabled) {
		return errConflict("two-factor authentication is not on")
	} else if err != nil {
		return err
	}
	s.loginFails.Reset(pair)
	s.audit(r, c.ID, actionMFARecoveryCodes, c.ID)
	return writeRecoveryCodes(w, codes)
}
