package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/storage"
)

// Every admin path refuses anyone but an admin: 401 without a token, 403
// with a user's, even for paths that do not exist.
func TestAdmin_OnlyAdmins(t *testing.T) {
	ts := newTestServer(t)
	u, plain := ts.signUp("user@example.com")
	admin := ts.makeAdmin("admin@example.com")
	k := ts.newKey(plain.AccessToken, map[string]string{"name": "ci"})
	routes := []struct{ method, path, body string }{
		{"GET", "/v1/admin/users", ""},
		{"PATCH", "/v1/admin/users/" + u.ID, `{"role":"admin"}`},
		{"DELETE", "/v1/admin/users/" + u.ID + "/sessions", ""},
		{"DELETE", "/v1/admin/sessions", ""},
		{"POST", "/v1/admin/users/" + u.ID + "/password-reset", ""},
		{"GET", "/v1/admin/keys", ""},
		{"GET", "/v1/admin/keys?user_id=" + u.ID, ""},
		{"DELETE", "/v1/admin/keys/" + k.ID, ""},
		{"GET", "/v1/admin/audit", ""},
		{"GET", "/v1/admin/backup", ""},
		{"GET", "/v1/admin/nonexistent", ""},
		{"POST", "/v1/admin/users", `{}`},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			var body any
			if rt.body != "" {
				body = rt.body
			}
			want(t, ts.do(rt.method, rt.path, body), 401, "unauthorized", nil)
			want(t, ts.do(rt.method, rt.path, body, bearer(plain.AccessToken)), 403, "forbidden", nil)
		})
	}
	// The user is still a user, and the key still works.
	var me struct{ User user }
	want(t, ts.do("GET", "/v1/me", nil, bearer(plain.AccessToken)), 200, "", &me)
	if me.User.Role != "user" {
		t.Errorf("role = %q", me.User.Role)
	}
	want(t, ts.chat(k.Key), 200, "", nil)
	// For an admin, an unknown path is a plain 404 and a wrong method a 405.
	want(t, ts.do("GET", "/v1/admin/nonexistent", nil, bearer(admin.AccessToken)), 404, "not_found", nil)
	rec := ts.do("POST", "/v1/admin/users", `{}`, bearer(admin.AccessToken))
	want(t, rec, 405, "method_not_allowed", nil)
	if rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("Allow = %q", rec.Header().Get("Allow"))
	}
}

func TestAdmin_ListUsers(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	for _, e := range []string{"carol@example.com", "bob@example.com", "dave@example.com"} {
		ts.signUp(e)
	}
	var all struct{ Users []user }
	want(t, ts.do("GET", "/v1/admin/users", nil, bearer(admin.AccessToken)), 200, "", &all)
	var emails []string
	for _, u := range all.Users {
		emails = append(emails, u.Email)
	}
	if strings.Join(emails, " ") != "admin@example.com bob@example.com carol@example.com dave@example.com" {
		t.Errorf("users = %v", emails)
	}
	var page struct{ Users []user }
	want(t, ts.do("GET", "/v1/admin/users?limit=2&after=bob@example.com", nil, bearer(admin.AccessToken)), 200, "", &page)
	if len(page.Users) != 2 || page.Users[0].Email != "carol@example.com" || page.Users[1].Email != "dave@example.com" {
		t.Errorf("page = %+v", page.Users)
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?limit=1001"} {
		want(t, ts.do("GET", "/v1/admin/users"+q, nil, bearer(admin.AccessToken)), 400, "invalid_request", nil)
	}
	if strings.Contains(ts.do("GET", "/v1/admin/users", nil, bearer(admin.AccessToken)).Body.String(), "$2a$") {
		t.Error("password hashes listed")
	}
}

func TestAdmin_UpdateUserValidation(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	adminID := ts.userID("admin@example.com")
	u, _ := ts.signUp("ada@example.com")
	auth := bearer(admin.AccessToken)
	tests := []struct {
		name, id, body string
		status         int
		code           string
	}{
		{"empty body", u.ID, "", 400, "invalid_request"},
		{"unknown field", u.ID, `{"email":"x@y.z"}`, 400, "invalid_request"},
		{"unknown tier", u.ID, `{"tiers":["gold"]}`, 400, "invalid_request"},
		{"tiers wrong type", u.ID, `{"tiers":"pro"}`, 400, "invalid_request"},
		{"bad role", u.ID, `{"role":"root"}`, 400, "invalid_request"},
		{"disabled wrong type", u.ID, `{"disabled":"yes"}`, 400, "invalid_request"},
		{"no such user", "usr_nobody", `{"disabled":true}`, 404, "not_found"},
		{"disable self", adminID, `{"disabled":true}`, 409, "conflict"},
		{"demote self", adminID, `{"role":"user"}`, 409, "conflict"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			want(t, ts.do("PATCH", "/v1/admin/users/"+tc.id, body, auth), tc.status, tc.code, nil)
		})
	}
	var got struct{ User user }
	want(t, ts.do("PATCH", "/v1/admin/users/"+u.ID, `{"tiers":["pro","basic","pro"]}`, auth), 200, "", &got)
	if strings.Join(got.User.Tiers, ",") != "basic,pro" || got.User.Disabled || got.User.Role != "user" {
		t.Errorf("user = %+v", got.User)
	}
}

// Disabling a user takes effect on the very next request, with no restart:
// their keys, access tokens and refresh tokens all stop working.
func TestAdmin_DisableTakesEffectAtOnce(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	u, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	want(t, ts.chat(k.Key), 200, "", nil) // the key is warm in memory

	var got struct{ User user }
	want(t, ts.do("PATCH", "/v1/admin/users/"+u.ID, `{"disabled":true}`, bearer(admin.AccessToken)), 200, "", &got)
	if !got.User.Disabled {
		t.Fatal("not disabled")
	}
	want(t, ts.chat(k.Key), 401, "unauthorized", nil)
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), 401, "unauthorized", nil)
	want(t, ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": testPassword}), 401, "unauthorized", nil)

	// Enabled again: the key works and the user can log in; the revoked
	// session stays revoked.
	want(t, ts.do("PATCH", "/v1/admin/users/"+u.ID, `{"disabled":false}`, bearer(admin.AccessToken)), 200, "", nil)
	want(t, ts.chat(k.Key), 200, "", nil)
	want(t, ts.do("GET", "/v1/me", nil, bearer(pair.AccessToken)), 401, "unauthorized", nil)
	fresh := ts.login("ada@example.com")
	want(t, ts.do("GET", "/v1/me", nil, bearer(fresh.AccessToken)), 200, "", nil)
}

// Tiers granted can be used at once; tiers taken away stop existing keys
// at once.
func TestAdmin_TiersTakeEffectAtOnce(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	u, pair := ts.signUp("ada@example.com")
	want(t, ts.do("POST", "/v1/keys", map[string]string{"name": "p", "tier": "pro"}, bearer(pair.AccessToken)), 403, "forbidden", nil)

	want(t, ts.do("PATCH", "/v1/admin/users/"+u.ID, `{"tiers":["basic","pro"]}`, bearer(admin.AccessToken)), 200, "", nil)
	pro := ts.newKey(pair.AccessToken, map[string]string{"name": "p", "tier": "pro"})
	want(t, ts.do("GET", "/v1/pro-only", nil, bearer(pro.Key)), 200, "", nil)

	want(t, ts.do("PATCH", "/v1/admin/users/"+u.ID, `{"tiers":["basic"]}`, bearer(admin.AccessToken)), 200, "", nil)
	want(t, ts.do("GET", "/v1/pro-only", nil, bearer(pro.Key)), 403, "forbidden", nil)
	want(t, ts.chat(pro.Key), 403, "forbidden", nil)
}

func TestAdmin_RoleTakesEffectAtOnce(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	u, pair := ts.signUp("ada@example.com")
	want(t, ts.do("GET", "/v1/admin/users", nil, bearer(pair.AccessToken)), 403, "forbidden", nil)
	want(t, ts.do("PATCH", "/v1/admin/users/"+u.ID, `{"role":"admin"}`, bearer(admin.AccessToken)), 200, "", nil)
	want(t, ts.do("GET", "/v1/admin/users", nil, bearer(pair.AccessToken)), 200, "", nil)
	want(t, ts.do("PATCH", "/v1/admin/users/"+u.ID, `{"role":"user"}`, bearer(admin.AccessToken)), 200, "", nil)
	want(t, ts.do("GET", "/v1/admin/users", nil, bearer(pair.AccessToken)), 403, "forbidden", nil)
}

func TestAdmin_Keys(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	ada, adaPair := ts.signUp("ada@example.com")
	_, bobPair := ts.signUp("bob@example.com")
	adaKey := ts.newKey(adaPair.AccessToken, map[string]string{"name": "ada"})
	ts.newKey(bobPair.AccessToken, map[string]string{"name": "bob"})

	type adminKey struct {
		key
		OwnerID string `json:"owner_id"`
	}
	var all struct{ Keys []adminKey }
	want(t, ts.do("GET", "/v1/admin/keys", nil, bearer(admin.AccessToken)), 200, "", &all)
	if len(all.Keys) != 2 {
		t.Fatalf("%d keys", len(all.Keys))
	}
	var mine struct{ Keys []adminKey }
	want(t, ts.do("GET", "/v1/admin/keys?user_id="+ada.ID, nil, bearer(admin.AccessToken)), 200, "", &mine)
	if len(mine.Keys) != 1 || mine.Keys[0].OwnerID != ada.ID || mine.Keys[0].ID != adaKey.ID || mine.Keys[0].Key != "" {
		t.Errorf("ada's keys = %+v", mine.Keys)
	}
	var none struct{ Keys []adminKey }
	want(t, ts.do("GET", "/v1/admin/keys?user_id=usr_nobody", nil, bearer(admin.AccessToken)), 200, "", &none)
	if len(none.Keys) != 0 {
		t.Errorf("nobody's keys = %+v", none.Keys)
	}

	want(t, ts.chat(adaKey.Key), 200, "", nil)
	want(t, ts.do("DELETE", "/v1/admin/keys/key_nope", nil, bearer(admin.AccessToken)), 404, "not_found", nil)
	if rec := ts.do("DELETE", "/v1/admin/keys/"+adaKey.ID, nil, bearer(admin.AccessToken)); rec.Code != 204 {
		t.Fatalf("admin revoke = %d %s", rec.Code, rec.Body)
	}
	want(t, ts.chat(adaKey.Key), 401, "unauthorized", nil)
}

func TestAdmin_Audit(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	u, pair := ts.signUp("ada@example.com")
	ts.do("POST", "/v1/auth/login", map[string]string{"email": "ada@example.com", "password": "wrong password"})
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	want(t, ts.do("POST", "/v1/keys/"+k.ID+"/rotate", nil, bearer(pair.AccessToken)), 201, "", nil)
	want(t, ts.do("DELETE", "/v1/keys/"+k.ID, nil, bearer(pair.AccessToken)), 204, "", nil)
	want(t, ts.do("PATCH", "/v1/admin/users/"+u.ID, `{"tiers":["basic","pro"]}`, bearer(admin.AccessToken)), 200, "", nil)
	want(t, ts.do("POST", "/v1/auth/logout", map[string]string{"refresh_token": pair.RefreshToken}), 204, "", nil)

	type event struct {
		ID, Time, Action, IP string
		ActorID              string `json:"actor_id"`
		TargetID             string `json:"target_id"`
	}
	var got struct{ Events []event }
	rec := ts.do("GET", "/v1/admin/audit", nil, bearer(admin.AccessToken))
	want(t, rec, 200, "", &got)
	var actions []string
	for _, e := range got.Events {
		actions = append(actions, e.Action)
	}
	wantActions := []string{
		"session.revoked", "user.updated", "key.revoked", "key.rotated", "key.created",
		"user.login_failed", "user.login", "user.registered", "user.login", "user.registered",
	}
	if strings.Join(actions, " ") != strings.Join(wantActions, " ") {
		t.Fatalf("actions, newest first:\n got %v\nwant %v", actions, wantActions)
	}
	if e := got.Events[1]; e.ActorID == "" || e.TargetID != u.ID || e.IP == "" || e.Time != "2026-11-26T12:00:00Z" {
		t.Errorf("user.updated = %+v", e)
	}
	if e := got.Events[5]; e.ActorID != "" || e.TargetID != u.ID {
		t.Errorf("user.login_failed = %+v", e)
	}
	for _, secret := range []string{testPassword, "wrong password", pair.AccessToken, pair.RefreshToken, k.Key} {
		if strings.Contains(rec.Body.String(), secret) {
			t.Errorf("audit log holds a secret")
		}
	}

	var page struct{ Events []event }
	want(t, ts.do("GET", "/v1/admin/audit?limit=3&before="+got.Events[2].ID, nil, bearer(admin.AccessToken)), 200, "", &page)
	if len(page.Events) != 3 || page.Events[0].ID != got.Events[3].ID || page.Events[2].ID != got.Events[5].ID {
		t.Errorf("page = %+v", page.Events)
	}
	for _, q := range []string{"?limit=0", "?limit=501", "?limit=x", "?before=garbage"} {
		want(t, ts.do("GET", "/v1/admin/audit"+q, nil, bearer(admin.AccessToken)), 400, "invalid_request", nil)
	}
}

// An admin downloads a consistent copy of the database while it serves.
func TestAdmin_Backup(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	rec := ts.do("GET", "/v1/admin/backup", nil, bearer(admin.AccessToken))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/octet-stream" ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), "keygate-20261126-120000.db") {
		t.Fatalf("backup = %d %v", rec.Code, rec.Header())
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, rec.Body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := storage.CheckFile(path, storage.Options{}); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.APIKeyByID(t.Context(), k.ID); err != nil {
		t.Errorf("backup lacks the key: %v", err)
	}
	// No temporary copy is left beside the database.
	entries, _ := os.ReadDir(filepath.Dir(ts.path))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".keygate-backup-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// An admin signs a user out everywhere without disabling them: their
// tokens die at once, their keys keep working (ASVS 7.4.5).
func TestAdmin_RevokeUserSessions(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	u, pair := ts.signUp("ada@example.com")
	other := ts.login("ada@example.com")
	_, bob := ts.signUp("bob@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	want(t, ts.do("DELETE", "/v1/admin/users/usr_nobody/sessions", nil, bearer(admin.AccessToken)), 404, "not_found", nil)
	if rec := ts.do("DELETE", "/v1/admin/users/"+u.ID+"/sessions", nil, bearer(admin.AccessToken)); rec.Code != 204 {
		t.Fatalf("revoke = %d %s", rec.Code, rec.Body)
	}
	for _, p := range []tokenPair{pair, other} {
		want(t, ts.do("GET", "/v1/me", nil, bearer(p.AccessToken)), 401, "unauthorized", nil)
		want(t, ts.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": p.RefreshToken}), 401, "unauthorized", nil)
	}
	want(t, ts.chat(k.Key), 200, "", nil)
	want(t, ts.do("GET", "/v1/me", nil, bearer(bob.AccessToken)), 200, "", nil)
	ts.login("ada@example.com") // and may sign in again
}

// The incident switch: every session but the admin's own ends at once.
func TestAdmin_RevokeAllSessions(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.makeAdmin("admin@example.com")
	otherAdmin := ts.login("admin@example.com")
	_, ada := ts.signUp("ada@example.com")
	_, bob := ts.signUp("bob@example.com")
	k := ts.newKey(ada.AccessToken, map[string]string{"name": "ci"})
	if rec := ts.do("DELETE", "/v1/admin/sessions", nil, bearer(admin.AccessToken)); rec.Code != 204 {
		t.Fatalf("revoke all = %d %s", rec.Code, rec.Body)
	}
	for _, p := range []tokenPair{otherAdmin, ada, bob} {
		want(t, ts.do("GET", "/v1/me", nil, bearer(p.AccessToken)), 401, "unauthorized", nil)
	}
	want(t, ts.do("GET", "/v1/me", nil, bearer(admin.AccessToken)), 200, "", nil)
	want(t, ts.chat(k.Key), 200, "", nil)
}
