package storage

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// APIKey is a stored API key. The raw key is never stored, only its SHA-256.
// The zero value is not a valid key.
type APIKey struct {
	ID, UserID string   // unique key id and owning user id; non-empty, no "/"
	Name       string   // label chosen by the user
	Prefix     string   // first 12 chars of the raw key, for display
	Tier       string   // rate-limit tier
	Hash       [32]byte // SHA-256 of the raw key; never leaves the server process
	Lineage    string   // ID of the first key of a rotation chain; usage is counted per lineage
	Replaces   string   // ID of the key this one replaced, or ""
	ReplacedBy string   // ID of the key that replaced this one, or ""
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never expires
	RevokedAt  time.Time // zero: not revoked; may lie in the future (end of a rotation's grace period)
	LastUsedAt time.Time // zero: never used
}

// ActiveAt reports whether k may be used at t: it is not revoked at t
// (RevokedAt is zero or t is before it) and not expired at t (ExpiresAt is
// zero or t is before it).
func (k APIKey) ActiveAt(t time.Time) bool {
	notRevoked := k.RevokedAt.IsZero() || t.Before(k.RevokedAt)
	notExpired := k.ExpiresAt.IsZero() || t.Before(k.ExpiresAt)
	return notRevoked && notExpired
}

// keyRecord is the JSON encoding of an APIKey in the keys bucket.
type keyRecord struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id"`
	Name       string    `json:"name"`
	Prefix     string    `json:"prefix"`
	Tier       string    `json:"tier"`
	Hash       []byte    `json:"hash"`
	Lineage    string    `json:"lineage"`
	Replaces   string    `json:"replaces,omitempty"`
	ReplacedBy string    `json:"replaced_by,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	RevokedAt  time.Time `json:"revoked_at"`
	LastUsedAt time.Time `json:"last_used_at"`
}

func keyToRecord(k APIKey) keyRecord {
	return keyRecord{
		ID: k.ID, UserID: k.UserID, Name: k.Name, Prefix: k.Prefix, Tier: k.Tier,
		Hash: k.Hash[:], Lineage: k.Lineage, Replaces: k.Replaces, ReplacedBy: k.ReplacedBy,
		CreatedAt: utc(k.CreatedAt), ExpiresAt: utc(k.ExpiresAt),
		RevokedAt: utc(k.RevokedAt), LastUsedAt: utc(k.LastUsedAt),
	}
}

func (r keyRecord) key() APIKey {
	k := APIKey{
		ID: r.ID, UserID: r.UserID, Name: r.Name, Prefix: r.Prefix, Tier: r.Tier,
		Lineage: r.Lineage, Replaces: r.Replaces, ReplacedBy: r.ReplacedBy,
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt, LastUsedAt: r.LastUsedAt,
	}
	copy(k.Hash[:], r.Hash)
	return k
}

// validKey checks the fields that keys and indexes depend on.
func validKey(k APIKey) error {
	for _, f := range []struct{ what, id string }{{"key id", k.ID}, {"user id", k.UserID}, {"lineage", k.Lineage}} {
		if err := validID(f.what, f.id); err != nil {
			return err
		}
	}
	if k.Hash == ([32]byte{}) {
		return fmt.Errorf("%w: zero key hash", ErrInvalid)
	}
	return nil
}

// CreateAPIKey stores a new key. An empty Lineage is set to k.ID. In the same
// write transaction it counts the owner's keys that are ActiveAt(now); if
// maxActive > 0 and that count is maxActive or more, it returns ErrKeyLimit
// and stores nothing. maxActive <= 0 means no limit. It returns ErrConflict if
// the id or the hash is already stored and ErrInvalid for a malformed id or a
// zero hash. Safe for concurrent use: concurrent creates never exceed maxActive.
// The owner is not required to exist.
func (db *DB) CreateAPIKey(ctx context.Context, k APIKey, maxActive int, now time.Time) error {
	if k.Lineage == "" {
		k.Lineage = k.ID
	}
	if err := validKey(k); err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		if maxActive > 0 {
			n, err := countActiveKeys(tx, k.UserID, now)
			if err != nil {
				return err
			}
			if n >= maxActive {
				return fmt.Errorf("%w: %d of %d", ErrKeyLimit, n, maxActive)
			}
		}
		return insertKey(tx, k)
	})
}

// countActiveKeys counts userID's keys that are ActiveAt(now).
func countActiveKeys(tx *bolt.Tx, userID string, now time.Time) (int, error) {
	keys, err := keysOfUser(tx, userID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if k.ActiveAt(now) {
			n++
		}
	}
	return n, nil
}

// insertKey stores k and its index entries, or returns ErrConflict.
func insertKey(tx *bolt.Tx, k APIKey) error {
	keys, byHash := tx.Bucket(bucketKeys), tx.Bucket(bucketKeysByHash)
	if keys.Get([]byte(k.ID)) != nil {
		return fmt.Errorf("%w: key id %q exists", ErrConflict, k.ID)
	}
	if byHash.Get(k.Hash[:]) != nil {
		return fmt.Errorf("%w: key hash exists", ErrConflict)
	}
	if err := byHash.Put(k.Hash[:], []byte(k.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketKeysByOwner).Put(compositeKey(k.UserID, k.ID), nil); err != nil {
		return err
	}
	return putJSON(keys, []byte(k.ID), keyToRecord(k))
}

// APIKeyByID returns the key with the given id, or ErrNotFound.
func (db *DB) APIKeyByID(ctx context.Context, id string) (APIKey, error) {
	var k APIKey
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		k, err = getKey(tx, id)
		return err
	})
	return k, err
}

// APIKeyByHash returns the key whose raw value hashes (SHA-256) to hash, or
// ErrNotFound. It does not check whether the key is active.
func (db *DB) APIKeyByHash(ctx context.Context, hash [32]byte) (APIKey, error) {
	var k APIKey
	err := db.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketKeysByHash).Get(hash[:])
		if id == nil {
			return fmt.Errorf("%w: key with that hash", ErrNotFound)
		}
		var err error
		k, err = getKey(tx, string(id))
		return err
	})
	return k, err
}

// APIKeysByUser returns all keys of userID, active or not, newest first
// (CreatedAt descending, then ID ascending). It returns an empty slice, not
// an error, for a user with no keys or no such user. It is served from
// memory while nothing has been written since the keys were last read.
func (db *DB) APIKeysByUser(ctx context.Context, userID string) ([]APIKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	gen, cacheable := db.reads.generation()
	if cacheable {
		if keys, ok := db.reads.keysOf(gen, userID); ok {
			return keys, nil
		}
	}
	var keys []APIKey
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		keys, err = keysOfUser(tx, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	sortKeysNewestFirst(keys)
	if cacheable {
		db.reads.putKeys(gen, userID, keys)
	}
	return keys, nil
}

// AllAPIKeys returns every stored key of every user, active or not, newest
// first (CreatedAt descending, then ID ascending). It returns an empty slice
// when there are none. It loads the whole bucket into memory; it is meant for
// the admin listing, not for a request's hot path. Safe for concurrent use.
func (db *DB) AllAPIKeys(ctx context.Context) ([]APIKey, error) {
	keys := []APIKey{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		lastUsed := tx.Bucket(bucketKeyLastUsed).Cursor()
		return tx.Bucket(bucketKeys).ForEach(func(_, v []byte) error {
			var r keyRecord
			if err := decodeKeyRecord(v, &r); err != nil {
				return fmt.Errorf("storage: decode key record: %w", err)
			}
			keys = append(keys, withLastUsed(lastUsed, r.key()))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sortKeysNewestFirst(keys)
	return keys, nil
}

// sortKeysNewestFirst orders keys by CreatedAt descending, then ID ascending.
func sortKeysNewestFirst(keys []APIKey) {
	slices.SortFunc(keys, func(a, b APIKey) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}

// keysOfUser loads userID's keys in id order.
func keysOfUser(tx *bolt.Tx, userID string) ([]APIKey, error) {
	prefix := compositeKey(userID, "")
	// The ids point into the memory map, valid until tx ends; most users'
	// fit in the array on the stack.
	ids := make([][]byte, 0, 8)
	c := tx.Bucket(bucketKeysByOwner).Cursor()
	for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, k[len(prefix):])
	}
	// One cursor per bucket for all the lookups, rather than one per Get.
	keys, lastUsed := tx.Bucket(bucketKeys).Cursor(), tx.Bucket(bucketKeyLastUsed).Cursor()
	out := make([]APIKey, 0, len(ids))
	for _, id := range ids {
		key, err := readKey(keys, lastUsed, id)
		if err != nil {
			return nil, err
		}
		out = append(out, key)
	}
	return out, nil
}

// RevokeAPIKey sets the key's RevokedAt to at, unless it is already revoked
// at or before at (an earlier revocation is kept; a later one, such as the
// end of a rotation's grace period, is brought forward). It returns the
// updated key, or ErrNotFound; ErrInvalid for a zero at. Revoking twice is
// harmless.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) (APIKey, error) {
	if at.IsZero() {
		return APIKey{}, fmt.Errorf("%w: zero revocation time", ErrInvalid)
	}
	var k APIKey
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if k, err = getKey(tx, id); err != nil {
			return err
		}
		if !k.RevokedAt.IsZero() && !k.RevokedAt.After(at) {
			return nil
		}
		k.RevokedAt = utc(at)
		return putJSON(tx.Bucket(bucketKeys), []byte(k.ID), keyToRecord(k))
	})
	if err != nil {
		return APIKey{}, err
	}
	return k, nil
}

// RotateAPIKey replaces the key oldID with next in one write transaction. The
// old key must exist (ErrNotFound), be ActiveAt(now) and not have been
// rotated already (ErrInactive otherwise). The old key stays usable until
// graceUntil: its RevokedAt becomes graceUntil unless it already has an
// earlier one, and its ReplacedBy becomes next.ID. next inherits the old
// key's UserID and Lineage, gets Replaces = oldID and an empty ReplacedBy, and
// is stored without the active-key limit check; ErrConflict if its id or
// hash is taken, ErrInvalid if malformed or if graceUntil is zero. A
// graceUntil at or before now ends the old key at once. It returns the
// updated old key; on error nothing is changed.
func (db *DB) RotateAPIKey(ctx context.Context, oldID string, next APIKey, graceUntil, now time.Time) (old APIKey, err error) {
	if graceUntil.IsZero() {
		return APIKey{}, fmt.Errorf("%w: zero grace period end", ErrInvalid)
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		if old, err = getKey(tx, oldID); err != nil {
			return err
		}
		if !old.ActiveAt(now) || old.ReplacedBy != "" {
			return fmt.Errorf("%w: key %q", ErrInactive, oldID)
		}
		if old.RevokedAt.IsZero() || graceUntil.Before(old.RevokedAt) {
			old.RevokedAt = utc(graceUntil)
		}
		old.ReplacedBy = next.ID
		next.UserID, next.Lineage, next.Replaces, next.ReplacedBy = old.UserID, old.Lineage, old.ID, ""
		if err := validKey(next); err != nil {
			return err
		}
		if err := insertKey(tx, next); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketKeys), []byte(old.ID), keyToRecord(old))
	})
	if err != nil {
		return APIKey{}, err
	}
	return old, nil
}

// getKey decodes the key with the given id, or returns ErrNotFound.
func getKey(tx *bolt.Tx, id string) (APIKey, error) {
	return readKey(tx.Bucket(bucketKeys).Cursor(), tx.Bucket(bucketKeyLastUsed).Cursor(), []byte(id))
}

// readKey decodes the key with the given id from the keys bucket, with its
// last use from the key_last_used bucket (given as cursors of them), or
// returns ErrNotFound.
func readKey(keys, lastUsed *bolt.Cursor, id []byte) (APIKey, error) {
	data := seekValue(keys, id)
	if data == nil {
		return APIKey{}, fmt.Errorf("%w: key %q", ErrNotFound, id)
	}
	var r keyRecord
	if err := decodeKeyRecord(data, &r); err != nil {
		return APIKey{}, fmt.Errorf("storage: decode record %q: %w", id, err)
	}
	return withLastUsed(lastUsed, r.key()), nil
}

// withLastUsed sets k.LastUsedAt from the key_last_used bucket when that is
// later than the record's own (which holds only what older versions wrote).
func withLastUsed(lastUsed *bolt.Cursor, k APIKey) APIKey {
	if n, ok := decodeUint(seekValue(lastUsed, []byte(k.ID))); ok {
		if at := time.Unix(0, int64(n)).UTC(); at.After(k.LastUsedAt) {
			k.LastUsedAt = at
		}
	}
	return k
}

// seekValue is Bucket.Get on a cursor of the bucket: the value stored
// under key, or nil. A cursor keeps its stack from one lookup to the next,
// where each Get makes a new one.
func seekValue(c *bolt.Cursor, key []byte) []byte {
	k, v := c.Seek(key)
	if !bytes.Equal(k, key) {
		return nil
	}
	return v
}
