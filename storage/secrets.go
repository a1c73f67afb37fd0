package storage

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ReplaceSecret puts secret in place of the one kept under name, and
// revokes every live session at the same commit: a replaced signing
// secret has made their tokens worthless, and a session left live would
// still be listed as one. It returns how many sessions were revoked.
func (db *DB) ReplaceSecret(ctx context.Context, name string, secret []byte, at time.Time) (int, error) {
	switch {
	case name == "":
		return 0, fmt.Errorf("%w: empty secret name", ErrInvalid)
	case len(secret) == 0:
		return 0, fmt.Errorf("%w: empty secret %q", ErrInvalid, name)
	case at.IsZero():
		return 0, fmt.Errorf("%w: zero revocation time", ErrInvalid)
	}
	revoked := 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put([]byte(metaSecretPrefix+name), cloneBytes(secret)); err != nil {
			return err
		}
		ids, err := revokeLiveSessions(tx, "", at)
		revoked = len(ids)
		return err
	})
	return revoked, err
}
