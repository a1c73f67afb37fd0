package storage_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/storage"
)

// UserByID and APIKeysByUser are served from memory; these tests hold them
// to what a read of the file would return.

// uncached reads what UserByID and APIKeysByUser must return through reads
// that do not use the cache.
func uncached(t *testing.T, db *storage.DB, email, userID string) (storage.User, []storage.APIKey) {
	t.Helper()
	ctx := context.Background()
	u, err := db.UserByEmail(ctx, email)
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	all, err := db.AllAPIKeys(ctx)
	if err != nil {
		t.Fatalf("AllAPIKeys: %v", err)
	}
	keys := []storage.APIKey{}
	for _, k := range all {
		if k.UserID == userID {
			keys = append(keys, k)
		}
	}
	return u, keys
}

// cachedReads reads u1 and its keys twice, so that the second read is
// served from the cache when nothing was written in between.
func cachedReads(t *testing.T, db *storage.DB) (storage.User, []storage.APIKey) {
	t.Helper()
	ctx := context.Background()
	var u storage.User
	var keys []storage.APIKey
	for range 2 {
		var err error
		if u, err = db.UserByID(ctx, "u1"); err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		if keys, err = db.APIKeysByUser(ctx, "u1"); err != nil {
			t.Fatalf("APIKeysByUser: %v", err)
		}
	}
	return u, keys
}

func keyByID(keys []storage.APIKey, id string) storage.APIKey {
	for _, k := range keys {
		if k.ID == id {
			return k
		}
	}
	return storage.APIKey{}
}

func TestDB_ReadCache_EveryWriteIsSeen(t *testing.T) {
	ctx := context.Background()
	resetHash := sha256.Sum256([]byte("reset"))
	tests := []struct {
		name  string
		setup func(*storage.DB) error // before the reads that fill the cache
		write func(*storage.DB) error
		check func(storage.User, []storage.APIKey) bool
	}{{
		name: "UpdateUser",
		write: func(db *storage.DB) error {
			_, err := db.UpdateUser(ctx, "u1", func(u *storage.User) error {
				u.Role, u.Tiers, u.Disabled = "admin", append(u.Tiers, "pro"), true
				return nil
			})
			return err
		},
		check: func(u storage.User, _ []storage.APIKey) bool {
			return u.Role == "admin" && u.Disabled && slices.Equal(u.Tiers, []string{"free", "pro"})
		},
	}, {
		name: "UsePasswordReset",
		setup: func(db *storage.DB) error {
			return db.CreatePasswordReset(ctx, resetHash, "u1", t0.Add(time.Hour))
		},
		write: func(db *storage.DB) error {
			_, err := db.UsePasswordReset(ctx, resetHash, []byte("new-hash"), t0)
			return err
		},
		check: func(u storage.User, _ []storage.APIKey) bool { return string(u.PasswordHash) == "new-hash" },
	}, {
		name:  "CreateAPIKey",
		write: func(db *storage.DB) error { return db.CreateAPIKey(ctx, testKey("k3", "u1", t0), 0, t0) },
		check: func(_ storage.User, keys []storage.APIKey) bool { return len(keys) == 3 && keys[0].ID == "k3" },
	}, {
		name: "CreateAPIKeys",
		write: func(db *storage.DB) error {
			return db.CreateAPIKeys(ctx, []storage.APIKey{testKey("k3", "u1", t0), testKey("k4", "u1", t0)})
		},
		check: func(_ storage.User, keys []storage.APIKey) bool { return len(keys) == 4 },
	}, {
		name: "RevokeAPIKey",
		write: func(db *storage.DB) error {
			_, err := db.RevokeAPIKey(ctx, "k1", t0)
			return err
		},
		check: func(_ storage.User, keys []storage.APIKey) bool { return keyByID(keys, "k1").RevokedAt.Equal(t0) },
	}, {
		name: "RotateAPIKey",
		write: func(db *storage.DB) error {
			_, err := db.RotateAPIKey(ctx, "k1", testKey("k3", "", t0), t0.Add(time.Hour), t0)
			return err
		},
		check: func(_ storage.User, keys []storage.APIKey) bool {
			return len(keys) == 3 && keyByID(keys, "k1").ReplacedBy == "k3"
		},
	}, {
		name: "Flush last use",
		write: func(db *storage.DB) error {
			return db.Flush(ctx, storage.Batch{Keys: []storage.LastUsed{{ID: "k2", At: t0.Add(time.Hour)}}})
		},
		check: func(_ storage.User, keys []storage.APIKey) bool {
			return keyByID(keys, "k2").LastUsedAt.Equal(t0.Add(time.Hour))
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.CreateUser(ctx, testUser("u1", "a@example.com")); err != nil {
				t.Fatal(err)
			}
			for i, id := range []string{"k1", "k2"} {
				if err := db.CreateAPIKey(ctx, testKey(id, "u1", t0.Add(-time.Duration(i+1)*time.Minute)), 0, t0); err != nil {
					t.Fatal(err)
				}
			}
			if tc.setup != nil {
				if err := tc.setup(db); err != nil {
					t.Fatalf("setup: %v", err)
				}
			}
			if u, keys := cachedReads(t, db); tc.check(u, keys) {
				t.Fatal("the state already passes the check before the write")
			}
			if err := tc.write(db); err != nil {
				t.Fatalf("write: %v", err)
			}
			u, keys := cachedReads(t, db)
			if !tc.check(u, keys) {
				t.Errorf("after the write: user %+v, keys %+v", u, keys)
			}
			wantUser, wantKeys := uncached(t, db, "a@example.com", "u1")
			if !reflect.DeepEqual(u, wantUser) || !reflect.DeepEqual(keys, wantKeys) {
				t.Errorf("cached reads differ from the file:\n got %+v\n     %+v\nwant %+v\n     %+v", u, keys, wantUser, wantKeys)
			}
		})
	}
}

func TestDB_ReadCache_ReturnsCopies(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if err := db.CreateUser(ctx, testUser("u1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAPIKey(ctx, testKey("k1", "u1", t0), 0, t0); err != nil {
		t.Fatal(err)
	}
	want, wantKeys := uncached(t, db, "a@example.com", "u1")
	for i := range 3 { // a miss, then hits
		u, err := db.UserByID(ctx, "u1")
		if err != nil || !reflect.DeepEqual(u, want) {
			t.Fatalf("read %d: UserByID = %+v, %v; want %+v", i, u, err, want)
		}
		keys, err := db.APIKeysByUser(ctx, "u1")
		if err != nil || !reflect.DeepEqual(keys, wantKeys) {
			t.Fatalf("read %d: APIKeysByUser = %+v, %v; want %+v", i, keys, err, wantKeys)
		}
		u.PasswordHash[0], u.Tiers[0] = 'X', "stolen"
		keys[0].Name, keys[0].Hash[0] = "changed", keys[0].Hash[0]+1
		_ = append(keys[:0], storage.APIKey{ID: "bogus"})
	}
}

func TestDB_ReadCache_EmptyAndMissing(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	for i := range 2 {
		keys, err := db.APIKeysByUser(ctx, "nobody")
		if err != nil || keys == nil || len(keys) != 0 {
			t.Fatalf("read %d: APIKeysByUser(nobody) = %#v, %v; want an empty slice", i, keys, err)
		}
		if _, err := db.UserByID(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("read %d: UserByID(nobody) = %v; want ErrNotFound", i, err)
		}
	}
	if err := db.CreateUsers(ctx, []storage.User{testUser("nobody", "n@example.com")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UserByID(ctx, "nobody"); err != nil {
		t.Fatalf("UserByID after CreateUsers: %v", err)
	}
}

func TestDB_ReadCache_ContextAndClose(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	if err := db.CreateUser(ctx, testUser("u1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	cachedReads(t, db)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.UserByID(cancelled, "u1"); !errors.Is(err, context.Canceled) {
		t.Errorf("UserByID with a cancelled context = %v", err)
	}
	if _, err := db.APIKeysByUser(cancelled, "u1"); !errors.Is(err, context.Canceled) {
		t.Errorf("APIKeysByUser with a cancelled context = %v", err)
	}
	db2 := reopen(t, db) // closes db
	if _, err := db.UserByID(ctx, "u1"); err == nil {
		t.Error("UserByID on a closed database succeeded")
	}
	if _, err := db.APIKeysByUser(ctx, "u1"); err == nil {
		t.Error("APIKeysByUser on a closed database succeeded")
	}
	if _, err := db2.UserByID(ctx, "u1"); err != nil {
		t.Errorf("UserByID after reopening: %v", err)
	}
}

// TestDB_ReadCache_NeverOlderThanCommitted runs writers and readers
// together. Before each read a reader notes the last writes that had
// returned; the read must show them, or later ones.
func TestDB_ReadCache_NeverOlderThanCommitted(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if err := db.CreateUser(ctx, testUser("u1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	const writes = 150
	var (
		userDone atomic.Int64 // highest version stored in Tiers[0] whose write returned
		keysDone atomic.Int64 // number of keys whose create returned
		usedDone atomic.Int64 // minutes after t0 of the last flushed use of k0
		stop     = make(chan struct{})
		writers  sync.WaitGroup
		readers  sync.WaitGroup
	)
	raise := func(a *atomic.Int64, v int64) {
		for old := a.Load(); v > old && !a.CompareAndSwap(old, v); old = a.Load() {
		}
	}
	fail := func(format string, args ...any) { t.Errorf(format, args...) }
	for range 2 { // two writers, each bumping the version in its own transaction
		writers.Go(func() {
			for range writes / 2 {
				u, err := db.UpdateUser(ctx, "u1", func(u *storage.User) error {
					n, _ := strconv.Atoi(u.Tiers[0])
					u.Tiers = []string{strconv.Itoa(n + 1)}
					return nil
				})
				if err != nil {
					fail("UpdateUser: %v", err)
					return
				}
				n, _ := strconv.Atoi(u.Tiers[0])
				raise(&userDone, int64(n))
			}
		})
	}
	writers.Go(func() {
		for i := range writes {
			if err := db.CreateAPIKey(ctx, testKey(fmt.Sprintf("k%d", i), "u1", t0), 0, t0); err != nil {
				fail("CreateAPIKey: %v", err)
				return
			}
			keysDone.Store(int64(i + 1))
		}
	})
	writers.Go(func() {
		for i := range int64(writes) {
			b := storage.Batch{
				Keys:  []storage.LastUsed{{ID: "k0", At: t0.Add(time.Duration(i) * time.Minute)}},
				Usage: []storage.Usage{{Lineage: "k0", Day: t0, Count: i}},
			}
			existed := keysDone.Load() > 0 // else Flush may skip k0's time
			if err := db.Flush(ctx, b); err != nil {
				fail("Flush: %v", err)
				return
			}
			if existed {
				raise(&usedDone, i)
			}
		}
	})
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				wantUser, wantKeys, wantUsed := userDone.Load(), keysDone.Load(), usedDone.Load()
				u, err := db.UserByID(ctx, "u1")
				if err != nil {
					fail("UserByID: %v", err)
					return
				}
				if n, _ := strconv.Atoi(u.Tiers[0]); int64(n) < wantUser {
					fail("UserByID returned version %d after version %d was committed", n, wantUser)
				}
				keys, err := db.APIKeysByUser(ctx, "u1")
				if err != nil {
					fail("APIKeysByUser: %v", err)
					return
				}
				if int64(len(keys)) < wantKeys {
					fail("APIKeysByUser returned %d keys after %d were committed", len(keys), wantKeys)
				}
				used := keyByID(keys, "k0").LastUsedAt
				if wantUsed > 0 && used.Before(t0.Add(time.Duration(wantUsed)*time.Minute)) {
					fail("k0 last used at %v after a use %d minutes after t0 was flushed", used, wantUsed)
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	if u, _ := cachedReads(t, db); u.Tiers[0] != strconv.Itoa(writes/2*2) {
		t.Errorf("final version %q, want %d", u.Tiers[0], writes/2*2)
	}
}
