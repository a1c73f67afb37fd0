package storage

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// passwordResetRecord is stored under the SHA-256 of its token, so the
// token itself is never in the file.
type passwordResetRecord struct {
	UserID    string    `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreatePasswordReset stores a single-use password reset for userID that
// works until expiresAt, under hash, the SHA-256 of its token. It returns
// ErrNotFound for an unknown user and ErrInvalid for a zero hash or time.
func (db *DB) CreatePasswordReset(ctx context.Context, hash [32]byte, userID string, expiresAt time.Time) error {
	if hash == ([32]byte{}) || expiresAt.IsZero() {
		return fmt.Errorf("%w: zero reset hash or expiry", ErrInvalid)
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(userID)) == nil {
			return fmt.Errorf("%w: user %q", ErrNotFound, userID)
		}
		return putJSON(tx.Bucket(bucketPasswordResets), hash[:], passwordResetRecord{UserID: userID, ExpiresAt: utc(expiresAt)})
	})
}

// PasswordResetUser returns the user a live reset belongs to, without
// spending it; ErrNotFound for an unknown, spent or expired one.
func (db *DB) PasswordResetUser(ctx context.Context, hash [32]byte, now time.Time) (User, error) {
	var u User
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		u, err = liveReset(tx, hash, now)
		return err
	})
	return u, err
}

// UsePasswordReset spends the reset under hash and sets its user's
// password hash, in one Update, so a token works exactly once. It returns
// the updated user, or ErrNotFound for an unknown, spent or expired reset.
func (db *DB) UsePasswordReset(ctx context.Context, hash [32]byte, passwordHash []byte, now time.Time) (User, error) {
	var u User
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if u, err = liveReset(tx, hash, now); err != nil {
			return err
		}
		if err := tx.Bucket(bucketPasswordResets).Delete(hash[:]); err != nil {
			return err
		}
		u.PasswordHash = cloneBytes(passwordHash)
		return putJSON(tx.Bucket(bucketUsers), []byte(u.ID), userToRecord(u))
	})
	return u, err
}

func liveReset(tx *bolt.Tx, hash [32]byte, now time.Time) (User, error) {
	var r passwordResetRecord
	ok, err := getJSON(tx.Bucket(bucketPasswordResets), hash[:], &r)
	if err != nil {
		return User{}, err
	}
	if !ok || !now.Before(r.ExpiresAt) {
		return User{}, fmt.Errorf("%w: password reset", ErrNotFound)
	}
	return getUser(tx, r.UserID)
}
