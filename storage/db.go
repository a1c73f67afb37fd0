package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Errors returned by DB methods. Methods wrap them with context, so compare
// with errors.Is.
var (
	// ErrNotFound is returned when the requested user, key or session does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict is returned when a create would duplicate a unique value:
	// an email already registered, an id already taken, or a key hash already stored.
	ErrConflict = errors.New("storage: conflict")
	// ErrLocked is returned by Open when another process holds the file's lock
	// for longer than Options.Timeout.
	ErrLocked = errors.New("storage: database file is in use by another process")
	// ErrKeyLimit is returned by CreateAPIKey when the user already has the
	// maximum number of active keys.
	ErrKeyLimit = errors.New("storage: active key limit reached")
	// ErrInactive is returned by RotateAPIKey for a key that is revoked,
	// expired or already rotated.
	ErrInactive = errors.New("storage: key is not active")
	// ErrSessionRevoked is returned by RotateSession for a session that is
	// revoked or expired.
	ErrSessionRevoked = errors.New("storage: session revoked or expired")
	// ErrTokenReused is returned by RotateSession when a refresh token other
	// than the session's current one is presented. The session has been
	// revoked, durably, as a result.
	ErrTokenReused = errors.New("storage: refresh token reused")
	// ErrInvalid is returned when an argument cannot be stored or parsed: an
	// empty id, an id containing "/", an empty email or name, a zero key hash,
	// a zero time where one is required, a signing-key seed that is not 32
	// bytes, or a malformed event id. It signals a programming error in the
	// caller (or, for event ids, a bad cursor from a client).
	ErrInvalid = errors.New("storage: invalid argument")
)

// schemaVersion is the version of the bucket layout written by this package.
//
// Version 3 keeps daily counts in blobs, many lineages a value, in the
// bucket daily_usage (see usageblob.go). Version 2 had one key a count in
// the bucket usage, day first ("2006-01-02/lineage"); version 1 had the
// lineage first. Open moves older counts, in its transaction.
const schemaVersion uint64 = 3

// defaultTimeout is the lock wait used when Options.Timeout is zero.
const defaultTimeout = time.Second

// Bucket names and meta keys.
var (
	bucketMeta           = []byte("meta")
	bucketUsers          = []byte("users")
	bucketUsersByEmail   = []byte("users_by_email")
	bucketKeys           = []byte("keys")
	bucketKeyLastUsed    = []byte("key_last_used")
	bucketPasswordResets = []byte("password_resets")
	bucketKeysByHash     = []byte("keys_by_hash")
	bucketKeysByOwner    = []byte("keys_by_owner")
	bucketSessions       = []byte("sessions")
	bucketSessionsByUser = []byte("sessions_by_user")
	bucketUsage          = []byte("daily_usage")
	bucketUsageV2        = []byte("usage") // versions 1 and 2; gone after Open migrates it
	bucketAudit          = []byte("audit")
	bucketSigningKeys    = []byte("signing_keys")

	metaVersion      = []byte("version")
	metaSecretPrefix = "secret/"
)

// allBuckets lists every bucket Open creates.
func allBuckets() [][]byte {
	return [][]byte{
		bucketMeta, bucketUsers, bucketUsersByEmail, bucketKeys, bucketKeysByHash,
		bucketKeysByOwner, bucketSessions, bucketSessionsByUser, bucketUsage,
		bucketAudit, bucketSigningKeys, bucketKeyLastUsed, bucketPasswordResets,
		bucketMFA,
	}
}

// Options configures Open. The zero value is ready to use.
type Options struct {
	// Timeout is how long Open waits for another process to release its lock
	// on the file before failing with ErrLocked. Zero means one second; a
	// negative value means try once without waiting.
	Timeout time.Duration
	// NoSync skips fsync after each commit. For tests only: a crash can lose
	// or corrupt committed data.
	NoSync bool
}

// DB is an open keygate database. It is safe for concurrent use by multiple
// goroutines. The zero value is not usable; call Open.
type DB struct {
	bolt  *bolt.DB
	path  string
	reads *readCache // kept coherent by update; see readcache.go
	// flushMu guards scratch, a flush's working memory kept for the next
	// flush (a sync.Pool lost it at every collection). Flushes are one at a
	// time anyway: each is one write transaction.
	flushMu sync.Mutex
	scratch flushScratch
}

// Open opens the database file at path, creating it with mode 0600 if needed,
// creates any missing buckets and records the schema version, all in one
// transaction. It returns an error wrapping ErrLocked (and naming the path) if
// another process holds the file for longer than o.Timeout, and an error if
// the file was written by a newer schema version or is not a bbolt file.
func Open(path string, o Options) (*DB, error) {
	timeout := o.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, NoSync: o.NoSync})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	if err := bdb.Update(initSchema); err != nil {
		// The schema error is what matters; a close error here adds nothing.
		_ = bdb.Close()
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	return &DB{bolt: bdb, path: path, reads: newReadCache()}, nil
}

// initSchema creates missing buckets and checks or writes the schema version.
func initSchema(tx *bolt.Tx) error {
	for _, name := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(metaVersion)
	if v == nil {
		return meta.Put(metaVersion, encodeUint(schemaVersion))
	}
	got, ok := decodeUint(v)
	if !ok {
		return errors.New("storage: malformed schema version")
	}
	if got > schemaVersion {
		return fmt.Errorf("storage: schema version %d is newer than supported version %d", got, schemaVersion)
	}
	if got < 2 {
		if err := migrateUsageDayFirst(tx); err != nil {
			return fmt.Errorf("storage: migrating usage to schema 2: %w", err)
		}
	}
	if got < 3 {
		if err := migrateUsageBlobs(tx); err != nil {
			return fmt.Errorf("storage: migrating usage to schema 3: %w", err)
		}
	}
	return meta.Put(metaVersion, encodeUint(schemaVersion))
}

// migrateUsageDayFirst rewrites version 1's "lineage/day" usage keys as
// "day/lineage", in the transaction that opens the file.
func migrateUsageDayFirst(tx *bolt.Tx) error {
	b := tx.Bucket(bucketUsageV2)
	if b == nil {
		return nil // never written
	}
	type entry struct{ key, value []byte }
	var moved []entry
	err := b.ForEach(func(k, v []byte) error {
		i := bytes.LastIndexByte(k, '/')
		if i < 0 {
			return fmt.Errorf("malformed usage key %q", k)
		}
		lineage, day := k[:i], k[i+1:]
		moved = append(moved, entry{compositeKey(string(day), string(lineage)), cloneBytes(v)})
		return nil
	})
	if err != nil {
		return err
	}
	if err := tx.DeleteBucket(bucketUsageV2); err != nil {
		return err
	}
	if b, err = tx.CreateBucket(bucketUsageV2); err != nil {
		return err
	}
	for _, e := range moved {
		if err := b.Put(e.key, e.value); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the file lock and closes the database. It waits for running
// transactions to finish. Calling Close more than once returns nil.
func (db *DB) Close() error {
	db.reads.disable()
	err := db.bolt.Close()
	db.releaseScratch()
	if err != nil {
		return fmt.Errorf("storage: close %s: %w", db.path, err)
	}
	return nil
}

// releaseScratch gives the flush scratch's blocks back now, not when db
// is collected: a closed DB may stay reachable. It waits for a flush in
// progress; a flush after Close starts a new scratch, and fails anyway.
func (db *DB) releaseScratch() {
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	if db.scratch.mem != nil {
		db.scratch.mem.ReleaseAll()
	}
	db.scratch = flushScratch{}
}

// Path returns the path the database was opened with.
func (db *DB) Path() string { return db.path }

// Secret returns the secret stored under name. If there is none, it calls
// generate, stores its result and returns it, atomically: concurrent callers
// (and later runs) all see the same secret. generate is called at most once
// per call and only while holding the write lock, so it should be fast (for
// example 32 bytes from crypto/rand). It returns ErrInvalid for an empty name
// or an empty generated secret, and generate's error wrapped.
func (db *DB) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty secret name", ErrInvalid)
	}
	key := []byte(metaSecretPrefix + name)
	var secret []byte
	err := db.view(ctx, func(tx *bolt.Tx) error {
		secret = cloneBytes(tx.Bucket(bucketMeta).Get(key))
		return nil
	})
	if err != nil || secret != nil {
		return secret, err
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if secret = cloneBytes(meta.Get(key)); secret != nil {
			return nil // another writer got there first
		}
		generated, err := generate()
		if err != nil {
			return fmt.Errorf("storage: generate secret %q: %w", name, err)
		}
		if len(generated) == 0 {
			return fmt.Errorf("%w: generated secret %q is empty", ErrInvalid, name)
		}
		secret = cloneBytes(generated)
		return meta.Put(key, secret)
	})
	if err != nil {
		return nil, err
	}
	return secret, nil
}

// view runs fn in a read-only transaction after checking ctx.
func (db *DB) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(fn)
}

// update runs fn in a read-write transaction after checking ctx. The
// transaction commits (and fsyncs) if fn returns nil and rolls back otherwise.
// It is the only way this package writes the file: around each commit it
// tells the read cache, which would otherwise serve what the commit changed.
func (db *DB) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	committing := false
	defer func() {
		if committing {
			db.reads.endCommit()
		}
	}()
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		committing = true
		db.reads.beginCommit() // bbolt commits when this returns nil
		return nil
	})
}

// validID reports ErrInvalid for an id that is empty or contains "/", the
// separator of composite keys. what names the field in the error.
func validID(what, id string) error {
	if id == "" || strings.Contains(id, "/") {
		return fmt.Errorf("%w: %s %q must be non-empty and contain no %q", ErrInvalid, what, id, "/")
	}
	return nil
}

// compositeKey returns a + "/" + b as a bucket key.
func compositeKey(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, '/')
	return append(k, b...)
}

// getJSON decodes the value stored under key into v. It reports false if
// there is no such key. Decoding copies, so v holds no bolt memory.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("storage: decode record %q: %w", key, err)
	}
	return true, nil
}

// putJSON encodes v and stores it under key.
func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("storage: encode: %w", err)
	}
	return b.Put(key, data)
}

// childIDs returns the second halves of the composite keys parent + "/" + id
// in b, in key order. The returned strings are copies.
func childIDs(b *bolt.Bucket, parent string) []string {
	prefix := compositeKey(parent, "")
	var ids []string
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	return ids
}

func hasPrefix(b, prefix []byte) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == string(prefix)
}

func encodeUint(n uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n)
}

func decodeUint(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// cloneBytes copies b out of bolt memory; it returns nil for nil.
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// utc returns t in UTC, keeping the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
