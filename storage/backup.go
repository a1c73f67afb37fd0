package storage

import (
	"context"
	"errors"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrDamaged is returned by Check and CheckFile when the file fails
// bbolt's consistency check, or cannot even be opened as a database.
var ErrDamaged = errors.New("storage: database file is damaged")

// Snapshot writes a consistent copy of the whole database to a new file at
// path, with mode 0600, and syncs it to disk before returning its size.
// Readers and writers go on meanwhile: the copy is one read transaction.
// Copy the file somewhere slow only after Snapshot returns, so no read
// transaction stays open while a client downloads (a long one would keep
// the file from reusing freed pages). An existing file at path is an error.
func (db *DB) Snapshot(ctx context.Context, path string) (n int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("storage: snapshot: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("storage: snapshot: %w", cerr)
		}
		if err != nil {
			os.Remove(path) // a partial copy is worse than none
		}
	}()
	err = db.bolt.View(func(tx *bolt.Tx) error {
		n, err = tx.WriteTo(f)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storage: snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("storage: snapshot: %w", err)
	}
	return n, nil
}

// Check runs bbolt's consistency check over the whole open database. It
// returns an error wrapping ErrDamaged that lists what it found.
func (db *DB) Check(ctx context.Context) error {
	return db.view(ctx, checkTx)
}

// CheckFile opens the database at path read-only, checks it and closes it.
// It returns ErrLocked while another process has the file open for
// writing, and an error wrapping ErrDamaged for a damaged file.
func CheckFile(path string, o Options) (err error) {
	timeout := o.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("storage: check: %w", err)
	}
	defer func() {
		// bbolt panics on some kinds of corruption rather than failing.
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s: %v", ErrDamaged, path, p)
		}
	}()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: true})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return fmt.Errorf("%w: %s: %v", ErrDamaged, path, err)
	}
	defer bdb.Close()
	return bdb.View(checkTx)
}

func checkTx(tx *bolt.Tx) error {
	var problems []error
	for err := range tx.Check() { // drained to the end: Check's goroutine waits on it
		if len(problems) < 10 {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w", ErrDamaged, errors.Join(problems...))
	}
	return nil
}
