package storage

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors of the two-factor methods. Methods wrap them; compare with errors.Is.
var (
	// ErrMFAEnabled is returned by SetPendingTOTP and EnableTOTP for a user
	// whose two-factor authentication is already on.
	ErrMFAEnabled = errors.New("storage: two-factor authentication is already on")
	// ErrMFADisabled is returned by AcceptTOTPStep, SpendRecoveryCode and
	// ReplaceRecoveryCodes for a user whose two-factor authentication is off.
	ErrMFADisabled = errors.New("storage: two-factor authentication is off")
	// ErrNoPendingMFA is returned by EnableTOTP when the secret to enable is
	// not the pending one: there is none, or a later enrolment replaced it.
	ErrNoPendingMFA = errors.New("storage: no such pending two-factor enrolment")
	// ErrCodeUsed is returned by AcceptTOTPStep for a time step not after
	// the last one accepted (a replayed code) or a secret no longer
	// current, and by SpendRecoveryCode for a recovery code that is not
	// among the unused ones.
	ErrCodeUsed = errors.New("storage: one-time code already used or not valid")
)

var bucketMFA = []byte("mfa")

// MFA is a user's two-factor state. The zero value is "off, nothing
// pending", what a user without a record has.
type MFA struct {
	Secret         []byte    // TOTP secret while Enabled; nil otherwise
	PendingSecret  []byte    // secret of an enrolment not yet confirmed; nil: none
	Enabled        bool      // whether a login needs a code
	EnabledAt      time.Time // when it was last turned on, UTC; zero while off
	LastStep       int64     // last TOTP time step accepted: codes of steps <= it are refused
	RecoveryHashes [][]byte  // SHA-256 of each unused recovery code
}

// mfaRecord is the JSON encoding of MFA in the mfa bucket.
type mfaRecord struct {
	Secret         []byte    `json:"secret,omitempty"`
	PendingSecret  []byte    `json:"pending_secret,omitempty"`
	Enabled        bool      `json:"enabled"`
	EnabledAt      time.Time `json:"enabled_at"`
	LastStep       int64     `json:"last_step"`
	RecoveryHashes [][]byte  `json:"recovery_hashes,omitempty"`
}

// MFA returns the two-factor state of the user with the given id: the
// zero MFA if they never enrolled. It returns ErrNotFound for an unknown
// user and ErrInvalid for a malformed id.
func (db *DB) MFA(ctx context.Context, userID string) (MFA, error) {
	if err := validID("user id", userID); err != nil {
		return MFA{}, err
	}
	var m MFA
	err := db.view(ctx, func(tx *bolt.Tx) error {
		r, err := getMFA(tx, userID)
		m = MFA(r)
		return err
	})
	return m, err
}

// MFAEnabled reports, for each of ids, whether its two-factor
// authentication is on, in one read transaction. Unknown ids are false.
func (db *DB) MFAEnabled(ctx context.Context, ids ...string) (map[string]bool, error) {
	on := make(map[string]bool, len(ids))
	err := db.view(ctx, func(tx *bolt.Tx) error {
		for _, id := range ids {
			var r mfaRecord
			if _, err := getJSON(tx.Bucket(bucketMFA), []byte(id), &r); err != nil {
				return err
			}
			on[id] = r.Enabled
		}
		return nil
	})
	return on, err
}

// SetPendingTOTP starts an enrolment: secret becomes the pending secret,
// replacing any earlier pending one. It returns ErrMFAEnabled if
// two-factor authentication is on, ErrNotFound for an unknown user and
// ErrInvalid for an empty secret or a malformed id.
func (db *DB) SetPendingTOTP(ctx context.Context, userID string, secret []byte) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: empty totp secret", ErrInvalid)
	}
	return db.updateMFA(ctx, userID, func(r *mfaRecord) error {
		if r.Enabled {
			return ErrMFAEnabled
		}
		r.PendingSecret = slices.Clone(secret)
		return nil
	})
}

// EnableTOTP confirms the enrolment of secret, which must still be the
// pending one (ErrNoPendingMFA otherwise): two-factor authentication is on
// from now, step is recorded as the last one used, and hashes are the
// recovery codes. It returns ErrMFAEnabled if it is on already and
// ErrNotFound for an unknown user.
func (db *DB) EnableTOTP(ctx context.Context, userID string, secret []byte, step int64, hashes [][]byte, now time.Time) error {
	return db.updateMFA(ctx, userID, func(r *mfaRecord) error {
		switch {
		case r.Enabled:
			return ErrMFAEnabled
		case len(r.PendingSecret) == 0 || subtle.ConstantTimeCompare(r.PendingSecret, secret) != 1:
			return ErrNoPendingMFA
		}
		*r = mfaRecord{Secret: r.PendingSecret, Enabled: true, EnabledAt: now.UTC(), LastStep: step,
			RecoveryHashes: cloneHashes(hashes)}
		return nil
	})
}

// AcceptTOTPStep records step as used by a code of secret, if step is after
// the last one accepted and secret is still the user's: a check and a set
// in one write transaction, so of two requests with one code exactly one
// succeeds. It returns ErrCodeUsed otherwise, ErrMFADisabled if two-factor
// authentication is off and ErrNotFound for an unknown user.
func (db *DB) AcceptTOTPStep(ctx context.Context, userID string, secret []byte, step int64) error {
	return db.updateMFA(ctx, userID, func(r *mfaRecord) error {
		switch {
		case !r.Enabled:
			return ErrMFADisabled
		case subtle.ConstantTimeCompare(r.Secret, secret) != 1 || step <= r.LastStep:
			return ErrCodeUsed
		}
		r.LastStep = step
		return nil
	})
}

// SpendRecoveryCode removes the recovery code with this SHA-256 from the
// unused ones, atomically: a code is spent once, whatever the
// concurrency. It returns ErrCodeUsed if it is not among them,
// ErrMFADisabled if two-factor authentication is off and ErrNotFound for
// an unknown user.
func (db *DB) SpendRecoveryCode(ctx context.Context, userID string, hash []byte) error {
	return db.updateMFA(ctx, userID, func(r *mfaRecord) error {
		if !r.Enabled {
			return ErrMFADisabled
		}
		found := -1
		for i, h := range r.RecoveryHashes {
			if subtle.ConstantTimeCompare(h, hash) == 1 {
				found = i
			}
		}
		if found < 0 {
			return ErrCodeUsed
		}
		r.RecoveryHashes = slices.Delete(r.RecoveryHashes, found, found+1)
		return nil
	})
}

// ReplaceRecoveryCodes makes hashes the only unused recovery codes: the
// earlier ones stop working. It returns ErrMFADisabled if two-factor
// authentication is off and ErrNotFound for an unknown user.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	return db.updateMFA(ctx, userID, func(r *mfaRecord) error {
		if !r.Enabled {
			return ErrMFADisabled
		}
		r.RecoveryHashes = cloneHashes(hashes)
		return nil
	})
}

// DisableMFA turns two-factor authentication off and forgets the secret,
// any pending one and the recovery codes. It reports whether it was on.
// Turning it off twice is not an error. It returns ErrNotFound for an
// unknown user.
func (db *DB) DisableMFA(ctx context.Context, userID string) (wasOn bool, err error) {
	err = db.updateMFA(ctx, userID, func(r *mfaRecord) error {
		wasOn = r.Enabled
		*r = mfaRecord{}
		return nil
	})
	return wasOn, err
}

// updateMFA loads userID's record (the zero one if none), calls fn on it and
// stores the result, or deletes the record if fn left it zero, all in one
// write transaction; an error from fn rolls back and is returned wrapped.
func (db *DB) updateMFA(ctx context.Context, userID string, fn func(*mfaRecord) error) error {
	if err := validID("user id", userID); err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		r, err := getMFA(tx, userID)
		if err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return fmt.Errorf("%w: user %q", err, userID)
		}
		b := tx.Bucket(bucketMFA)
		if !r.Enabled && len(r.PendingSecret) == 0 {
			return b.Delete([]byte(userID))
		}
		return putJSON(b, []byte(userID), r)
	})
}

// getMFA decodes userID's record, the zero one if there is none, or
// returns ErrNotFound if there is no such user.
func getMFA(tx *bolt.Tx, userID string) (mfaRecord, error) {
	if tx.Bucket(bucketUsers).Get([]byte(userID)) == nil {
		return mfaRecord{}, fmt.Errorf("%w: user %q", ErrNotFound, userID)
	}
	var r mfaRecord
	_, err := getJSON(tx.Bucket(bucketMFA), []byte(userID), &r)
	return r, err
}

func cloneHashes(hashes [][]byte) [][]byte {
	out := make([][]byte, len(hashes))
	for i, h := range hashes {
		out[i] = slices.Clone(h)
	}
	return out
}
