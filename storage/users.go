package storage

import (
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// User is a keygate account. The zero value is not a valid user.
type User struct {
	ID           string    // unique, non-empty, no "/"
	Email        string    // normalised by the caller; unique, non-empty
	PasswordHash []byte    // bcrypt hash; never the password
	Role         string    // "user" or "admin"
	Tiers        []string  // tiers the user may create keys in
	Disabled     bool      // a disabled user cannot log in or use keys
	CreatedAt    time.Time // stored in UTC
}

// userRecord is the JSON encoding of a User in the users bucket.
type userRecord struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	PasswordHash []byte    `json:"password_hash"`
	Role         string    `json:"role"`
	Tiers        []string  `json:"tiers,omitempty"`
	Disabled     bool      `json:"disabled,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// userToRecord converts u for storage, with times in UTC. The field lists of
// User and userRecord must stay identical.
func userToRecord(u User) userRecord {
	r := userRecord(u)
	r.CreatedAt = utc(r.CreatedAt)
	return r
}

func (r userRecord) user() User { return User(r) }

// validUser checks the fields that keys and indexes depend on.
func validUser(u User) error {
	if err := validID("user id", u.ID); err != nil {
		return err
	}
	if u.Email == "" {
		return fmt.Errorf("%w: empty email", ErrInvalid)
	}
	return nil
}

// CreateUser stores a new user. It returns ErrConflict if the id or the email
// is already taken and ErrInvalid for an empty or malformed id or an empty
// email. Safe for concurrent use; of two concurrent creates with the same
// email exactly one succeeds.
func (db *DB) CreateUser(ctx context.Context, u User) error {
	if err := validUser(u); err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
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
	})
}

// UserByID returns the user with the given id, or ErrNotFound. It is served
// from memory while nothing has been written since the user was last read.
func (db *DB) UserByID(ctx context.Context, id string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	gen, cacheable := db.reads.generation()
	if cacheable {
		if u, ok := db.reads.user(gen, id); ok {
			return u, nil
		}
	}
	var u User
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		u, err = getUser(tx, id)
		return err
	})
	if err == nil && cacheable {
		db.reads.putUser(gen, u)
	}
	return u, err
}

// UserByEmail returns the user registered with email (compared byte for byte,
// so the caller normalises it), or ErrNotFound.
func (db *DB) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	err := db.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketUsersByEmail).Get([]byte(email))
		if id == nil {
			return fmt.Errorf("%w: user with that email", ErrNotFound)
		}
		var err error
		u, err = getUser(tx, string(id))
		return err
	})
	return u, err
}

// UpdateUser loads the user with the given id, calls fn with a copy of it and
// stores the result, all in one write transaction. If fn returns an error the
// transaction is rolled back and that error is returned. fn may change Email
// (the email index follows; ErrConflict if the new email belongs to another
// user) but not ID (ErrInvalid). It returns the stored user, or ErrNotFound.
// fn must not call other DB methods: it runs inside the write lock.
func (db *DB) UpdateUser(ctx context.Context, id string, fn func(*User) error) (User, error) {
	var updated User
	err := db.update(ctx, func(tx *bolt.Tx) error {
		old, err := getUser(tx, id)
		if err != nil {
			return err
		}
		u := old
		u.Tiers = slices.Clone(old.Tiers)
		u.PasswordHash = slices.Clone(old.PasswordHash)
		if err := fn(&u); err != nil {
			return err
		}
		if u.ID != old.ID {
			return fmt.Errorf("%w: user id cannot change", ErrInvalid)
		}
		if err := validUser(u); err != nil {
			return err
		}
		if err := reindexEmail(tx, old.Email, u.Email, u.ID); err != nil {
			return err
		}
		updated = userToRecord(u).user()
		return putJSON(tx.Bucket(bucketUsers), []byte(u.ID), userToRecord(u))
	})
	if err != nil {
		return User{}, err
	}
	return updated, nil
}

// reindexEmail moves id's entry in users_by_email from oldEmail to newEmail.
func reindexEmail(tx *bolt.Tx, oldEmail, newEmail, id string) error {
	if oldEmail == newEmail {
		return nil
	}
	byEmail := tx.Bucket(bucketUsersByEmail)
	if byEmail.Get([]byte(newEmail)) != nil {
		return fmt.Errorf("%w: email already registered", ErrConflict)
	}
	if err := byEmail.Delete([]byte(oldEmail)); err != nil {
		return err
	}
	return byEmail.Put([]byte(newEmail), []byte(id))
}

// getUser decodes the user with the given id, or returns ErrNotFound.
func getUser(tx *bolt.Tx, id string) (User, error) {
	data := tx.Bucket(bucketUsers).Get([]byte(id))
	if data == nil {
		return User{}, fmt.Errorf("%w: user %q", ErrNotFound, id)
	}
	var r userRecord
	if err := decodeUserRecord(data, &r); err != nil {
		return User{}, fmt.Errorf("storage: decode record %q: %w", id, err)
	}
	return r.user(), nil
}

// Users returns up to limit users in email order (byte order of the stored,
// caller-normalised emails), starting strictly after the email after; ""
// starts from the first. limit <= 0 means all. It reads the users_by_email
// index for order, so paging by passing the last email of one page as the
// next after visits each user exactly once, provided no email changes
// meanwhile (a user created between pages shows up only if its email sorts
// after the cursor). It returns an empty slice, not an error, past the end.
// Safe for concurrent use.
func (db *DB) Users(ctx context.Context, after string, limit int) ([]User, error) {
	users := []User{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketUsersByEmail).Cursor()
		email, id := c.Seek([]byte(after))
		if email != nil && string(email) == after {
			email, id = c.Next()
		}
		for ; email != nil && (limit <= 0 || len(users) < limit); email, id = c.Next() {
			u, err := getUser(tx, string(id))
			if err != nil {
				return err
			}
			users = append(users, u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return users, nil
}
