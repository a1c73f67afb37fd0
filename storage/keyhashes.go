package storage

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// keyHashCheckEvery is how many hashes ForEachKeyHash passes between two
// checks of its context: often enough to stop promptly, rarely enough to
// cost nothing.
const keyHashCheckEvery = 4096

// ForEachKeyHash calls fn with the hash of every stored API key (active,
// revoked, expired and rotated alike), in byte order, from one read
// transaction: the hashes are those of one consistent snapshot, and a key
// committed after the transaction began is not among them. It decodes no
// key record, so it is fast enough to walk millions of keys at start-up.
//
// It stops at, and returns, the first error of fn, or ctx's error (checked
// before the transaction and every few thousand keys). fn must not call
// into db: the read transaction is open while it runs. Safe for concurrent
// use.
func (db *DB) ForEachKeyHash(ctx context.Context, fn func(hash [32]byte) error) error {
	return db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketKeysByHash).Cursor()
		n := 0
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if n++; n%keyHashCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			// Every entry is a 32-byte SHA-256 (insertKey writes k.Hash[:]);
			// any other could never match a lookup by hash, so passing over
			// it loses nothing.
			if len(k) != len([32]byte{}) {
				continue
			}
			if err := fn([32]byte(k)); err != nil {
				return fmt.Errorf("storage: walking key hashes: %w", err)
			}
		}
		return nil
	})
}
