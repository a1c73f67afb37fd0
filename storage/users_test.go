package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/keygate/keygate/storage"
)

func testUser(id, email string) storage.User {
	return storage.User{
		ID: id, Email: email, PasswordHash: []byte("$2a$10$hash-" + id), Role: "user",
		Tiers: []string{"free"}, CreatedAt: t0,
	}
}

func TestDB_CreateUser(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		user    storage.User
		wantErr error
	}{
		{"duplicate email", testUser("u2", "ann@example.com"), storage.ErrConflict},
		{"duplicate id", testUser("u1", "bob@example.com"), storage.ErrConflict},
		{"empty id", testUser("", "bob@example.com"), storage.ErrInvalid},
		{"slash in id", testUser("u/2", "bob@example.com"), storage.ErrInvalid},
		{"empty email", testUser("u2", ""), storage.ErrInvalid},
		{"ok", testUser("u2", "bob@example.com"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.CreateUser(ctx, testUser("u1", "ann@example.com")); err != nil {
				t.Fatal(err)
			}
			if err := db.CreateUser(ctx, tc.user); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			got, err := db.UserByEmail(ctx, tc.user.Email)
			if err != nil || !reflect.DeepEqual(got, tc.user) {
				t.Errorf("UserByEmail = %+v, %v; want %+v", got, err, tc.user)
			}
		})
	}
}

func TestDB_UserLookups(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	ann := testUser("u1", "ann@example.com")
	if err := db.CreateUser(ctx, ann); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db)
	tests := []struct {
		name    string
		lookup  func() (storage.User, error)
		wantErr error
	}{
		{"by unknown id", func() (storage.User, error) { return db.UserByID(ctx, "nope") }, storage.ErrNotFound},
		{"by unknown email", func() (storage.User, error) { return db.UserByEmail(ctx, "nope@example.com") }, storage.ErrNotFound},
		{"by id", func() (storage.User, error) { return db.UserByID(ctx, "u1") }, nil},
		{"by email", func() (storage.User, error) { return db.UserByEmail(ctx, "ann@example.com") }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.lookup()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && !reflect.DeepEqual(got, ann) {
				t.Errorf("got %+v, want %+v", got, ann)
			}
		})
	}
}

func TestDB_UpdateUser(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		id      string
		fn      func(*storage.User) error
		wantErr error
		check   func(t *testing.T, db *storage.DB)
	}{
		{"unknown", "nope", func(*storage.User) error { return nil }, storage.ErrNotFound, nil},
		{"fn error rolls back", "u1", func(u *storage.User) error { u.Role = "admin"; return boom }, boom,
			func(t *testing.T, db *storage.DB) {
				if u, _ := db.UserByID(ctx, "u1"); u.Role != "user" {
					t.Errorf("role = %q after rollback", u.Role)
				}
			}},
		{"id change", "u1", func(u *storage.User) error { u.ID = "u9"; return nil }, storage.ErrInvalid, nil},
		{"email taken", "u1", func(u *storage.User) error { u.Email = "bob@example.com"; return nil }, storage.ErrConflict, nil},
		{"role and tiers", "u1", func(u *storage.User) error {
			u.Role, u.Tiers, u.Disabled = "admin", append(u.Tiers, "pro"), true
			return nil
		}, nil, func(t *testing.T, db *storage.DB) {
			u, err := db.UserByID(ctx, "u1")
			if err != nil || u.Role != "admin" || !u.Disabled || !reflect.DeepEqual(u.Tiers, []string{"free", "pro"}) {
				t.Errorf("UserByID = %+v, %v", u, err)
			}
		}},
		{"email change reindexes", "u1", func(u *storage.User) error { u.Email = "ann2@example.com"; return nil }, nil,
			func(t *testing.T, db *storage.DB) {
				if _, err := db.UserByEmail(ctx, "ann@example.com"); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("old email: err = %v, want ErrNotFound", err)
				}
				if u, err := db.UserByEmail(ctx, "ann2@example.com"); err != nil || u.ID != "u1" {
					t.Errorf("new email: %+v, %v", u, err)
				}
				if err := db.CreateUser(ctx, testUser("u3", "ann@example.com")); err != nil {
					t.Errorf("old email not freed: %v", err)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			for _, u := range []storage.User{testUser("u1", "ann@example.com"), testUser("u2", "bob@example.com")} {
				if err := db.CreateUser(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			got, err := db.UpdateUser(ctx, tc.id, tc.fn)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil {
				stored, _ := db.UserByID(ctx, tc.id)
				if !reflect.DeepEqual(got, stored) {
					t.Errorf("returned %+v, stored %+v", got, stored)
				}
			}
			if tc.check != nil {
				tc.check(t, reopen(t, db))
			}
		})
	}
}

func TestDB_Users(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	// Created out of email order, with ids in another order still.
	emails := []string{"dan@example.com", "ann@example.com", "eve@example.com", "bob@example.com", "cat@example.com"}
	for i, e := range emails {
		if err := db.CreateUser(ctx, testUser(fmt.Sprintf("u%d", len(emails)-i), e)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		after string
		limit int
		want  []string // emails
	}{
		{"all", "", 0, []string{"ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com", "eve@example.com"}},
		{"negative limit is all", "", -1, []string{"ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com", "eve@example.com"}},
		{"first page", "", 2, []string{"ann@example.com", "bob@example.com"}},
		{"after an existing email", "bob@example.com", 2, []string{"cat@example.com", "dan@example.com"}},
		{"after a missing email", "c", 2, []string{"cat@example.com", "dan@example.com"}},
		{"last page short", "dan@example.com", 2, []string{"eve@example.com"}},
		{"past the end", "eve@example.com", 2, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users, err := db.Users(ctx, tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, u := range users {
				if u.Email == "" || u.ID == "" || len(u.PasswordHash) == 0 {
					t.Errorf("incomplete user %+v", u)
				}
				got = append(got, u.Email)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("emails = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDB_Users_Paging(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	const n = 23
	for i := range n {
		if err := db.CreateUser(ctx, testUser(fmt.Sprintf("u%d", i), fmt.Sprintf("user%02d@example.com", (i*7)%n))); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	after := ""
	for page := 0; ; page++ {
		users, err := db.Users(ctx, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) == 0 {
			break
		}
		if page > n {
			t.Fatal("paging does not end")
		}
		for _, u := range users {
			got = append(got, u.Email)
		}
		after = users[len(users)-1].Email
	}
	if len(got) != n || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != n {
		t.Errorf("pages gave %d emails, want %d distinct in order: %v", len(got), n, got)
	}
}

func TestDB_Users_Empty(t *testing.T) {
	users, err := openTestDB(t).Users(context.Background(), "", 10)
	if err != nil || users == nil || len(users) != 0 {
		t.Errorf("Users = %v, %v; want an empty slice", users, err)
	}
}
