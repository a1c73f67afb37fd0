package storage

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// CreateUsers stores users in one write transaction: all of them or, on any
// error, none. It is CreateUser for bulk loading (benchmarks, imports),
// where one fsync per user would dominate. It returns ErrInvalid for a user
// CreateUser would refuse and ErrConflict if an id or email is already
// stored or appears twice in users. An empty slice starts no transaction.
// Safe for concurrent use.
func (db *DB) CreateUsers(ctx context.Context, users []User) error {
	if len(users) == 0 {
		return nil
	}
	for _, u := range users {
		if err := validUser(u); err != nil {
			return err
		}
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		for _, u := range users {
			if err := insertUser(tx, u); err != nil {
				return err
			}
		}
		return nil
	})
}

// insertUser stores u and its email index entry, or returns ErrConflict.
func insertUser(tx *bolt.Tx, u User) error {
	users, byEmail := tx.Bucket(bucketUsers), tx.Bucket(bucketUsersByEmail)
	if users.Get([]byte(u.ID)) != nil {
		return fmt.Errorf("%w: user id %q exists", ErrConflict, u.ID)
	}
	if byEmail.Get([]byte(u.Email)) != nil {
		return fmt.Errorf("%w: email already registered", ErrConflict)
	}
	if err := byEmail.Put([]byte(u.Email), []byte(u.ID)); err != nil {
		return err
	}
	return putJSON(users, []byte(u.ID), userToRecord(u))
}

// CreateAPIKeys stores keys in one write transaction: all of them or, on
// any error, none. It is CreateAPIKey for bulk loading, without the
// per-user limit on active keys (the caller decides how many each user
// gets). An empty Lineage is set to the key's ID. It returns ErrInvalid for
// a key CreateAPIKey would refuse and ErrConflict if an id or hash is
// already stored or appears twice in keys. An empty slice starts no
// transaction. The owners are not required to exist. Safe for concurrent
// use.
func (db *DB) CreateAPIKeys(ctx context.Context, keys []APIKey) error {
	if len(keys) == 0 {
		return nil
	}
	for i := range keys {
		k := keys[i]
		if k.Lineage == "" {
			k.Lineage = k.ID
		}
		if err := validKey(k); err != nil {
			return err
		}
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		for _, k := range keys {
			if k.Lineage == "" {
				k.Lineage = k.ID
			}
			if err := insertKey(tx, k); err != nil {
				return err
			}
		}
		return nil
	})
}
