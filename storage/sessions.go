package storage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Session is a login session: a chain of refresh tokens of which only the
// latest, RefreshID, may be spent. The zero value is not a valid session.
type Session struct {
	ID, UserID string    // unique session id and owning user id; non-empty, no "/"
	RefreshID  string    // jti of the one refresh token that may be spent next
	CreatedAt  time.Time // stored in UTC
	LastUsedAt time.Time // time of the last rotation
	ExpiresAt  time.Time // the session is dead at and after this instant
	RevokedAt  time.Time // zero: live
	UserAgent  string    // as sent at login, for display
	IP         string    // client address at login, for display
}

// sessionRecord is the JSON encoding of a Session in the sessions bucket.
type sessionRecord struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id"`
	RefreshID  string    `json:"refresh_id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	RevokedAt  time.Time `json:"revoked_at"`
	UserAgent  string    `json:"user_agent,omitempty"`
	IP         string    `json:"ip,omitempty"`
}

// sessionToRecord converts s for storage, with times in UTC. The field lists
// of Session and sessionRecord must stay identical.
func sessionToRecord(s Session) sessionRecord {
	r := sessionRecord(s)
	r.CreatedAt, r.LastUsedAt = utc(r.CreatedAt), utc(r.LastUsedAt)
	r.ExpiresAt, r.RevokedAt = utc(r.ExpiresAt), utc(r.RevokedAt)
	return r
}

func (r sessionRecord) session() Session { return Session(r) }

// CreateSession stores a new session. It returns ErrConflict if the id is
// taken and ErrInvalid for a malformed id or user id or an empty RefreshID.
func (db *DB) CreateSession(ctx context.Context, s Session) error {
	if err := validID("session id", s.ID); err != nil {
		return err
	}
	if err := validID("user id", s.UserID); err != nil {
		return err
	}
	if s.RefreshID == "" {
		return fmt.Errorf("%w: empty refresh id", ErrInvalid)
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketSessions)
		if sessions.Get([]byte(s.ID)) != nil {
			return fmt.Errorf("%w: session id %q exists", ErrConflict, s.ID)
		}
		if err := tx.Bucket(bucketSessionsByUser).Put(compositeKey(s.UserID, s.ID), nil); err != nil {
			return err
		}
		return putJSON(sessions, []byte(s.ID), sessionToRecord(s))
	})
}

// SessionByID returns the session with the given id, live or not, or ErrNotFound.
func (db *DB) SessionByID(ctx context.Context, id string) (Session, error) {
	var s Session
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		s, err = getSession(tx, id)
		return err
	})
	return s, err
}

// SessionsByUser returns all sessions of userID, live or not, newest first
// (CreatedAt descending, then ID ascending). It returns an empty slice for a
// user with no sessions.
func (db *DB) SessionsByUser(ctx context.Context, userID string) ([]Session, error) {
	var sessions []Session
	err := db.view(ctx, func(tx *bolt.Tx) error {
		ids := childIDs(tx.Bucket(bucketSessionsByUser), userID)
		sessions = make([]Session, 0, len(ids))
		for _, id := range ids {
			s, err := getSession(tx, id)
			if err != nil {
				return err
			}
			sessions = append(sessions, s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(sessions, func(a, b Session) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return sessions, nil
}

// RotateSession spends the refresh token spentRefreshID of session id and
// makes nextRefreshID the only one that may be spent next, in one write
// transaction. It returns ErrNotFound for an unknown session and
// ErrSessionRevoked if the session is revoked or ExpiresAt <= now. If
// spentRefreshID is not the current RefreshID, the token was already spent
// (stolen or replayed): the session is revoked at now, that revocation is
// committed, and ErrTokenReused is returned with a zero Session.
// Otherwise RefreshID, LastUsedAt and ExpiresAt become nextRefreshID, now and
// expiresAt, and the updated session is returned. Safe for concurrent use: of
// two concurrent rotations with the same token, one succeeds and the other
// revokes the session.
func (db *DB) RotateSession(ctx context.Context, id, spentRefreshID, nextRefreshID string, now, expiresAt time.Time) (Session, error) {
	if nextRefreshID == "" {
		return Session{}, fmt.Errorf("%w: empty refresh id", ErrInvalid)
	}
	var s Session
	reused := false
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if s, err = getSession(tx, id); err != nil {
			return err
		}
		if !s.RevokedAt.IsZero() || !now.Before(s.ExpiresAt) {
			return fmt.Errorf("%w: session %q", ErrSessionRevoked, id)
		}
		if s.RefreshID != spentRefreshID {
			// Commit the revocation: returning an error here would roll it back.
			reused = true
			s.RevokedAt = utc(now)
		} else {
			s.RefreshID, s.LastUsedAt, s.ExpiresAt = nextRefreshID, now, expiresAt
		}
		return putJSON(tx.Bucket(bucketSessions), []byte(s.ID), sessionToRecord(s))
	})
	if err != nil {
		return Session{}, err
	}
	if reused {
		return Session{}, fmt.Errorf("%w: session %q revoked", ErrTokenReused, id)
	}
	return sessionToRecord(s).session(), nil
}

// RevokeSession revokes the session at the given time and returns it. It is
// idempotent: an earlier revocation is kept. It returns ErrNotFound for an
// unknown session and ErrInvalid for a zero at.
func (db *DB) RevokeSession(ctx context.Context, id string, at time.Time) (Session, error) {
	if at.IsZero() {
		return Session{}, fmt.Errorf("%w: zero revocation time", ErrInvalid)
	}
	var s Session
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if s, err = getSession(tx, id); err != nil {
			return err
		}
		if !s.RevokedAt.IsZero() && !s.RevokedAt.After(at) {
			return nil
		}
		s.RevokedAt = utc(at)
		return putJSON(tx.Bucket(bucketSessions), []byte(s.ID), sessionToRecord(s))
	})
	if err != nil {
		return Session{}, err
	}
	return s, nil
}

// getSession decodes the session with the given id, or returns ErrNotFound.
func getSession(tx *bolt.Tx, id string) (Session, error) {
	var r sessionRecord
	ok, err := getJSON(tx.Bucket(bucketSessions), []byte(id), &r)
	if err != nil {
		return Session{}, err
	}
	if !ok {
		return Session{}, fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	return r.session(), nil
}
