package storage_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keygate/keygate/storage"
)

// A version 2 file, one key a count, is migrated on Open into version 3's
// blobs: every count is still there, a malformed count reads as 0 as it
// did, and the old bucket is gone (issue 6).
func TestOpen_MigratesUsageToBlobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	days := []time.Time{day(24), day(25), day(26)}
	want := map[string]int64{} // "day/lineage" -> count
	err := writeV2Usage(path, func(usage *bolt.Bucket) error {
		for d, dy := range days {
			for i := range 3000 {
				if (i+d)%4 == 0 {
					continue // not every lineage every day
				}
				k := fmt.Sprintf("%s/key_%d", dy.Format("2006-01-02"), i)
				want[k] = int64(i*10 + d + 1)
				if err := usage.Put([]byte(k), binary.BigEndian.AppendUint64(nil, uint64(want[k]))); err != nil {
					return err
				}
			}
		}
		return usage.Put([]byte("2026-11-26/key_bad"), []byte("short"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(path, storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3000 {
		lineage := fmt.Sprintf("key_%d", i)
		got, err := db.UsageRange(ctx, lineage, days[0], days[2])
		if err != nil {
			t.Fatal(err)
		}
		var wantDays []storage.Usage
		for _, dy := range days {
			if n, ok := want[dy.Format("2006-01-02")+"/"+lineage]; ok {
				wantDays = append(wantDays, storage.Usage{Lineage: lineage, Day: dy, Count: n})
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(wantDays) {
			t.Fatalf("%s: %v, want %v", lineage, got, wantDays)
		}
	}
	if n, err := db.UsageCount(ctx, "key_bad", days[2]); err != nil || n != 0 {
		t.Errorf("malformed count = %d, %v; want 0", n, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path)
	err = viewBolt(path, func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("usage")) != nil {
			t.Error("the version 2 bucket is still there")
		}
		if v := tx.Bucket([]byte("meta")).Get([]byte("version")); binary.BigEndian.Uint64(v) != 3 {
			t.Errorf("version = %x, want 3", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Opening again migrates nothing and loses nothing.
	db, err = storage.Open(path, storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.UsageCount(ctx, "key_8", days[1]); err != nil || n != 82 {
		t.Errorf("after a second Open: %d, %v; want 82", n, err)
	}
}

// A version 2 usage key without a day fails Open, as version 1's did:
// moving on without it would lose a count silently.
func TestOpen_MigrateUsageMalformedKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	err := writeV2Usage(path, func(usage *bolt.Bucket) error {
		return usage.Put([]byte("not-a-day/key_a"), binary.BigEndian.AppendUint64(nil, 1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if db, err := storage.Open(path, storage.Options{NoSync: true}); err == nil {
		db.Close()
		t.Fatal("Open accepted a malformed usage key")
	}
}

// writeV2Usage creates a version 2 file at path by hand: its meta, and
// its usage bucket as fill leaves it.
func writeV2Usage(path string, fill func(usage *bolt.Bucket) error) error {
	return writeBolt(path, func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		if err := meta.Put([]byte("version"), binary.BigEndian.AppendUint64(nil, 2)); err != nil {
			return err
		}
		usage, err := tx.CreateBucket([]byte("usage"))
		if err != nil {
			return err
		}
		return fill(usage)
	})
}

// writeBolt creates a bbolt file at path by hand and runs fn in one update.
func writeBolt(path string, fn func(*bolt.Tx) error) error {
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	if err := bdb.Update(fn); err != nil {
		bdb.Close()
		return err
	}
	return bdb.Close()
}

// viewBolt opens the bbolt file at path read-only and runs fn in one view.
func viewBolt(path string, fn func(*bolt.Tx) error) error {
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer bdb.Close()
	return bdb.View(fn)
}
