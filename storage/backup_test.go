package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/storage"
)

// A snapshot taken while writes go on is a consistent database holding
// everything committed before it began.
func TestDB_Snapshot(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if err := db.CreateUser(ctx, storage.User{ID: "usr_1", Email: "a@b.io", Role: "user", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // writers keep going during the snapshot
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u := storage.User{ID: fmt.Sprintf("usr_w%d", i), Email: fmt.Sprintf("w%d@b.io", i), Role: "user", CreatedAt: now}
			if err := db.CreateUser(ctx, u); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	path := filepath.Join(t.TempDir(), "snap.db")
	n, err := db.Snapshot(ctx, path)
	close(stop)
	wg.Wait()
	if err != nil || n == 0 {
		t.Fatalf("Snapshot = %d, %v", n, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Size() != n || info.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v %v", info, err)
	}
	if err := storage.CheckFile(path, storage.Options{}); err != nil {
		t.Fatalf("CheckFile(snapshot) = %v", err)
	}
	snap, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if _, err := snap.UserByEmail(ctx, "a@b.io"); err != nil {
		t.Errorf("snapshot lacks a committed user: %v", err)
	}
	if err := snap.Check(ctx); err != nil {
		t.Error(err)
	}
	if _, err := db.Snapshot(ctx, path); err == nil {
		t.Error("Snapshot over an existing file succeeded")
	}
}

func TestCheckFile_Damaged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 200 {
		u := storage.User{ID: fmt.Sprintf("usr_%d", i), Email: fmt.Sprintf("u%d@b.io", i), Role: "user", CreatedAt: time.Now()}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Check(ctx); err != nil {
		t.Fatalf("healthy file: %v", err)
	}
	// Held open: another process's check is refused, not run on a moving file.
	if err := storage.CheckFile(path, storage.Options{Timeout: 100 * time.Millisecond}); !errors.Is(err, storage.ErrLocked) {
		t.Errorf("CheckFile while open = %v, want ErrLocked", err)
	}
	db.Close()
	if err := storage.CheckFile(path, storage.Options{}); err != nil {
		t.Fatalf("healthy file: %v", err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4 * 4096; i < len(data); i++ { // trample every page after the meta and freelist pages
		data[i] = 0xA5
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := storage.CheckFile(path, storage.Options{}); !errors.Is(err, storage.ErrDamaged) {
		t.Errorf("CheckFile(damaged) = %v, want ErrDamaged", err)
	}
	if err := storage.CheckFile(filepath.Join(dir, "missing.db"), storage.Options{}); err == nil || errors.Is(err, storage.ErrDamaged) {
		t.Errorf("CheckFile(missing) = %v", err)
	}
}
