/*
Package storage keeps all of keygate's durable state in one bbolt file: users,
API keys, refresh-token sessions, daily usage counts, the audit log, JWT
signing keys and generated secrets.
It is the only package that imports bbolt.

# Basics

Open a file with [Open] and close it with [DB.Close]. Every method takes a
context.Context first; it is checked before a transaction starts, because a
bbolt transaction cannot be cancelled once it runs. Every write runs in one
read-write transaction (db.Update) and, unless [Options.NoSync] is set, is
fsynced before the method returns: a nil error means the change is durable.

Records are returned by value. Their bytes are copied out of the memory map
(decoded from JSON) before the transaction ends, so callers may keep and modify
them freely. A *DB is safe for concurrent use by multiple goroutines: bbolt
runs any number of read transactions in parallel with a single writer, and
check-then-write rules (the active-key limit, unique emails, refresh-token
rotation) run inside one write transaction, so they hold under concurrency.

# Bucket layout

All keys are byte strings; composite keys join ids with "/". Ids must be
non-empty and must not contain "/" (ErrInvalid otherwise), which keeps every
composite key unambiguous.

	meta              "version" -> schema version, uint64 big-endian (currently 3)
	                  "secret/" + name -> secret bytes (see DB.Secret)
	users             user id -> JSON user record
	users_by_email    email -> user id
	keys              key id -> JSON key record (holds the SHA-256, never the raw key)
	keys_by_hash      SHA-256 of the raw key (32 bytes) -> key id
	keys_by_owner     user id + "/" + key id -> empty
	key_last_used     key id -> last use, unix nanoseconds, uint64 big-endian (written
	                  by Flush apart from the record, so a flush rewrites 8 bytes a key)
	password_resets   SHA-256 of a reset token -> JSON {user id, expiry}; deleted when used
	sessions          session id -> JSON session record
	sessions_by_user  user id + "/" + session id -> empty
	daily_usage       "2006-01-02" (UTC day) + shard (a fixed hash of the lineage mod
	                  8192, 2 bytes big-endian) -> records [uvarint len][lineage][uvarint
	                  count] sorted by lineage: a flush of 100k counts is ~8k Puts, not
	                  100k. Schemas 1 and 2 kept one key a count in bucket "usage"
	                  (lineage first, then day first); Open migrates both
	audit             sequence, uint64 big-endian (bucket NextSequence) -> JSON event
	                  record without its id; the id is "evt_" + the sequence in 16 hex digits
	signing_keys      signing key id -> JSON signing key record (holds the private seed)
	mfa               user id -> JSON {secret, pending_secret, enabled, enabled_at,
	                  last_step, recovery_hashes}: the TOTP secret as is (it must be
	                  usable to check codes), recovery codes as SHA-256 only; the record
	                  is deleted when two-factor is off with nothing pending

Open creates missing buckets and refuses a file whose schema version is newer
than this package understands.

Schema notes: version 1 first had the buckets meta through usage (now daily_usage). The audit,
signing_keys and mfa buckets were added later without a version change: they are
new, nothing existing changed shape, and Open creates them in older files.
The session and key records gained no fields.

# Caveats

A bbolt file can be opened by one process at a time. Open takes an exclusive
advisory lock (flock) on the file and waits up to [Options.Timeout] for it;
after that it fails with an error wrapping [ErrLocked]. Run a single keygate
process per database file.

Writes are serialised: only one write transaction runs at a time, and each one
costs an fsync. Hot-path state is therefore kept by the caller: usage counts
and last-used times of keys and sessions are counted in memory and written
behind with [DB.Flush], which stores absolute counts and only later times, so
that replaying a batch is harmless. A crash loses whatever the caller had not
flushed yet, never a user, key, revocation, session, event or signing key,
since those are committed before their method returns.

[DB.AppendEvents] commits at once, several events in one transaction;
it does not use bbolt's Batch, whose delay every lone event would wait
out. Audit events, ended sessions and retired signing keys stay
until the caller removes them with [DB.PruneEvents], [DB.PruneSessions] and
[DB.DeleteSigningKeys], typically from a periodic job.

Signing-key seeds are stored as they are, not hashed, since they must be
used: anyone who can read the file can forge tokens. Open creates the file
with mode 0600; keep it, and its backups, private.

The file only grows; bbolt reuses freed pages but does not shrink the file.

[DB.UserByID] and [DB.APIKeysByUser], read on every authenticated request,
are served from a bounded in-memory cache, but only while no write has
committed since the value was read: any commit, to any bucket (a
per-second [DB.Flush] included), empties it, so they are exactly as fresh
as a read of the file. This holds only because every write goes through
one internal function; a new write path must too (a test checks the source).
*/
package storage
