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

// SeedSize is the length in bytes of a SigningKey's Ed25519 seed
// (crypto/ed25519.SeedSize).
const SeedSize = 32

// SigningKey is a JWT signing key. Only the newest key signs; retired keys
// still verify tokens issued before they retired until they are deleted. The
// zero value is not a valid key.
type SigningKey struct {
	ID        string    // unique key id (the JWT "kid"); non-empty, no "/"
	Seed      []byte    // Ed25519 seed, SeedSize bytes; private: it is stored as is, in a 0600 file
	CreatedAt time.Time // stored in UTC
	RetiredAt time.Time // zero: the current signing key
}

// signingKeyRecord is the JSON encoding of a SigningKey.
type signingKeyRecord struct {
	ID        string    `json:"id"`
	Seed      []byte    `json:"seed"`
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at"`
}

func signingKeyToRecord(k SigningKey) signingKeyRecord {
	return signingKeyRecord{ID: k.ID, Seed: k.Seed, CreatedAt: utc(k.CreatedAt), RetiredAt: utc(k.RetiredAt)}
}

func (r signingKeyRecord) signingKey() SigningKey { return SigningKey(r) }

// validNewSigningKey checks a key about to become the current one.
func validNewSigningKey(k SigningKey) error {
	if err := validID("signing key id", k.ID); err != nil {
		return err
	}
	switch {
	case len(k.Seed) != SeedSize:
		return fmt.Errorf("%w: signing key seed is %d bytes, want %d", ErrInvalid, len(k.Seed), SeedSize)
	case k.CreatedAt.IsZero():
		return fmt.Errorf("%w: zero signing key creation time", ErrInvalid)
	case !k.RetiredAt.IsZero():
		return fmt.Errorf("%w: a new signing key cannot be retired", ErrInvalid)
	}
	return nil
}

// SigningKeys returns every stored signing key, newest first (CreatedAt
// descending, then ID ascending), so the current key, if any, comes first.
// It returns an empty slice when there are none. The seeds are copies. Safe
// for concurrent use.
func (db *DB) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	var keys []SigningKey
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		keys, err = signingKeys(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// AddSigningKey stores k as the new current key and, in the same write
// transaction, retires every key not yet retired, with RetiredAt =
// k.CreatedAt. It returns ErrConflict if k.ID is taken, and ErrInvalid for a
// malformed id, a seed that is not SeedSize bytes, a zero CreatedAt or a
// non-zero RetiredAt. The seed is copied. Safe for concurrent use.
func (db *DB) AddSigningKey(ctx context.Context, k SigningKey) error {
	if err := validNewSigningKey(k); err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error { return addSigningKey(tx, k) })
}

// EnsureSigningKey returns the stored signing keys as SigningKeys does. If
// there are none, it first calls generate and stores its key as by
// AddSigningKey, atomically: concurrent callers (and later runs) all see the
// same single key. generate is called at most once and only while holding
// the write lock, so it should be fast. It returns generate's error wrapped,
// and the errors of AddSigningKey for the generated key. Safe for concurrent use.
func (db *DB) EnsureSigningKey(ctx context.Context, generate func() (SigningKey, error)) ([]SigningKey, error) {
	keys, err := db.SigningKeys(ctx)
	if err != nil || len(keys) > 0 {
		return keys, err
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		existing, err := signingKeys(tx)
		if err != nil {
			return err
		}
		if len(existing) == 0 { // else another writer got there first
			if err := addGenerated(tx, generate); err != nil {
				return err
			}
		}
		keys, err = signingKeys(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// addGenerated stores generate's key as the current one.
func addGenerated(tx *bolt.Tx, generate func() (SigningKey, error)) error {
	k, err := generate()
	if err != nil {
		return fmt.Errorf("storage: generate signing key: %w", err)
	}
	if err := validNewSigningKey(k); err != nil {
		return err
	}
	return addSigningKey(tx, k)
}

// DeleteSigningKeys deletes the keys retired before cutoff, in one write
// transaction, and returns how many it deleted. The current key (zero
// RetiredAt) is never deleted. Safe for concurrent use.
func (db *DB) DeleteSigningKeys(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		keys, err := signingKeys(tx)
		if err != nil {
			return err
		}
		n = 0 // count only what this transaction deletes
		for _, k := range keys {
			if k.RetiredAt.IsZero() || !k.RetiredAt.Before(cutoff) {
				continue
			}
			if err := tx.Bucket(bucketSigningKeys).Delete([]byte(k.ID)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// addSigningKey retires the current keys and stores k, or returns ErrConflict.
// k has been validated.
func addSigningKey(tx *bolt.Tx, k SigningKey) error {
	b := tx.Bucket(bucketSigningKeys)
	if b.Get([]byte(k.ID)) != nil {
		return fmt.Errorf("%w: signing key id %q exists", ErrConflict, k.ID)
	}
	keys, err := signingKeys(tx)
	if err != nil {
		return err
	}
	for _, old := range keys {
		if !old.RetiredAt.IsZero() {
			continue
		}
		old.RetiredAt = k.CreatedAt
		if err := putJSON(b, []byte(old.ID), signingKeyToRecord(old)); err != nil {
			return err
		}
	}
	return putJSON(b, []byte(k.ID), signingKeyToRecord(k))
}

// signingKeys decodes every signing key, newest first.
func signingKeys(tx *bolt.Tx) ([]SigningKey, error) {
	keys := []SigningKey{}
	err := tx.Bucket(bucketSigningKeys).ForEach(func(k, v []byte) error {
		var r signingKeyRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("storage: decode signing key %q: %w", k, err)
		}
		keys = append(keys, r.signingKey())
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(keys, func(a, b SigningKey) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return keys, nil
}
