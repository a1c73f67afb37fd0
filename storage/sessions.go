package storage

import (
	"cmp"
	"context"
	"encoding/json"
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
		if !s.LiveAt(now) {
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

// LiveAt reports whether s may be used at t: it is not revoked and t is
// before ExpiresAt.
func (s Session) LiveAt(t time.Time) bool {
	return s.RevokedAt.IsZero() && t.Before(s.ExpiresAt)
}

// LiveSessions returns every session that is LiveAt(now), of every user, in
// session id order; the server loads them into memory at start-up. It returns
// an empty slice when there are none. Safe for concurrent use.
func (db *DB) LiveSessions(ctx context.Context, now time.Time) ([]Session, error) {
	live := []Session{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return forEachSession(tx, func(s Session) error {
			if s.LiveAt(now) {
				live = append(live, s)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return live, nil
}

// RevokeUserSessions revokes, at the given time, every session of userID
// that is LiveAt(at), except the one whose id is except ("" spares none), in
// one write transaction. It returns the ids it revoked in id order (empty,
// not an error, if there were none or the user does not exist); sessions
// already revoked or expired keep their state. It returns ErrInvalid for a
// malformed userID or a zero at. Safe for concurrent use.
func (db *DB) RevokeUserSessions(ctx context.Context, userID, except string, at time.Time) ([]string, error) {
	if err := validID("user id", userID); err != nil {
		return nil, err
	}
	if at.IsZero() {
		return nil, fmt.Errorf("%w: zero revocation time", ErrInvalid)
	}
	var revoked []string
	err := db.update(ctx, func(tx *bolt.Tx) error {
		revoked = []string{} // reset: nothing from a failed attempt survives
		for _, id := range childIDs(tx.Bucket(bucketSessionsByUser), userID) {
			s, err := getSession(tx, id)
			if err != nil {
				return err
			}
			if id == except || !s.LiveAt(at) {
				continue
			}
			s.RevokedAt = utc(at)
			if err := putJSON(tx.Bucket(bucketSessions), []byte(id), sessionToRecord(s)); err != nil {
				return err
			}
			revoked = append(revoked, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return revoked, nil
}

// RevokeAllSessions revokes (RevokedAt = at) every live session of every
// user, except the one with id except ("" = none), in one Update, and
// returns the ids it revoked. It is the incident-response switch: after a
// suspected leak, everyone signs in again. Safe for concurrent use.
func (db *DB) RevokeAllSessions(ctx context.Context, except string, at time.Time) ([]string, error) {
	if at.IsZero() {
		return nil, fmt.Errorf("%w: zero revocation time", ErrInvalid)
	}
	var revoked []string
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		revoked, err = revokeLiveSessions(tx, except, at)
		return err
	})
	if err != nil {
		return nil, err
	}
	return revoked, nil
}

// revokeLiveSessions revokes, within tx, every session live at at except
// the one with id except, and returns the ids it revoked.
func revokeLiveSessions(tx *bolt.Tx, except string, at time.Time) ([]string, error) {
	b := tx.Bucket(bucketSessions)
	var live []Session
	err := b.ForEach(func(k, v []byte) error {
		s, err := getSession(tx, string(k))
		if err != nil {
			return err
		}
		if string(k) != except && s.LiveAt(at) {
			live = append(live, s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	revoked := []string{}
	for _, s := range live { // written after the walk: a cursor must not see its own writes
		s.RevokedAt = utc(at)
		if err := putJSON(b, []byte(s.ID), sessionToRecord(s)); err != nil {
			return nil, err
		}
		revoked = append(revoked, s.ID)
	}
	return revoked, nil
}

// PruneSessions deletes, with their index entries, the sessions that expired
// (ExpiresAt) or were revoked (RevokedAt) before cutoff, in one write
// transaction, and returns how many it deleted. A session deleted this way
// reads as ErrNotFound afterwards, so keep cutoff far enough in the past that
// a stolen refresh token of a revoked session is still recognised as reused
// while it could be presented. Safe for concurrent use.
func (db *DB) PruneSessions(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var dead []Session
		err := forEachSession(tx, func(s Session) error {
			revokedBefore := !s.RevokedAt.IsZero() && s.RevokedAt.Before(cutoff)
			if revokedBefore || s.ExpiresAt.Before(cutoff) {
				dead = append(dead, s)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Deleting after the scan, not during it, keeps the cursor valid.
		for _, s := range dead {
			if err := deleteSession(tx, s); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// deleteSession removes s and its sessions_by_user entry.
func deleteSession(tx *bolt.Tx, s Session) error {
	if err := tx.Bucket(bucketSessionsByUser).Delete(compositeKey(s.UserID, s.ID)); err != nil {
		return err
	}
	return tx.Bucket(bucketSessions).Delete([]byte(s.ID))
}

// forEachSession decodes every session in id order and calls fn with it,
// stopping at the first error.
func forEachSession(tx *bolt.Tx, fn func(Session) error) error {
	return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
		var r sessionRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("storage: decode session %q: %w", k, err)
		}
		return fn(r.session())
	})
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
