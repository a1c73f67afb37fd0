package server_test

import (
	"testing"

	"github.com/keygate/keygate/server"
)

// With mfa.required = "admins", an admin without two-factor authentication
// may sign in, read /v1/me and turn it on, and nothing else until then;
// users are not asked. Turning it off puts the admin back behind the wall.
func TestMFAPolicy_Admins(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.MFARequired = server.MFAAdmins })
	admin := ts.makeAdmin("root@example.com")
	_, userPair := ts.signUp("ada@example.com")
	asAdmin := bearer(admin.AccessToken)

	rec := ts.do("GET", "/v1/admin/users", nil, asAdmin)
	want(t, rec, 403, "forbidden", nil)
	if got := rec.Header().Get("X-Keygate-MFA"); got != "enrol" {
		t.Errorf("X-Keygate-MFA = %q, want enrol", got)
	}
	want(t, ts.do("GET", "/v1/keys", nil, asAdmin), 403, "forbidden", nil)
	want(t, ts.do("POST", "/v1/keys", map[string]string{"name": "k"}, asAdmin), 403, "forbidden", nil)
	want(t, ts.do("POST", "/v1/me/mfa/disable", map[string]string{"password": testPassword, "code": "123456"}, asAdmin), 403, "forbidden", nil)
	want(t, ts.do("GET", "/v1/me/sessions", nil, asAdmin), 200, "", nil)

	var me struct {
		User struct {
			MFAEnabled  bool `json:"mfa_enabled"`
			MFARequired bool `json:"mfa_required"`
		}
	}
	want(t, ts.do("GET", "/v1/me", nil, asAdmin), 200, "", &me)
	if !me.User.MFARequired || me.User.MFAEnabled {
		t.Errorf("admin's me = %+v, want required and not enabled", me.User)
	}
	want(t, ts.do("GET", "/v1/me", nil, bearer(userPair.AccessToken)), 200, "", &me)
	if me.User.MFARequired {
		t.Errorf("user's me = %+v, want not required", me.User)
	}
	want(t, ts.do("GET", "/v1/keys", nil, bearer(userPair.AccessToken)), 200, "", nil)

	// Enrolment from the restricted session opens everything.
	secret := ts.startEnrol(admin.AccessToken)
	want(t, ts.do("POST", "/v1/me/mfa/totp/confirm", map[string]string{"code": ts.code(secret)}, asAdmin), 200, "", nil)
	want(t, ts.do("GET", "/v1/admin/users", nil, asAdmin), 200, "", nil)

	// Turned off again (here by the admin themself), the wall is back.
	want(t, ts.do("POST", "/v1/me/mfa/disable", map[string]string{"password": testPassword, "code": ts.nextCode(secret)}, asAdmin), 204, "", nil)
	want(t, ts.do("GET", "/v1/admin/users", nil, asAdmin), 403, "forbidden", nil)
}

// With "all", every user is asked.
func TestMFAPolicy_All(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.MFARequired = server.MFAAll })
	_, pair := ts.signUp("ada@example.com")
	want(t, ts.do("GET", "/v1/keys", nil, bearer(pair.AccessToken)), 403, "forbidden", nil)
	secret := ts.startEnrol(pair.AccessToken)
	want(t, ts.do("POST", "/v1/me/mfa/totp/confirm", map[string]string{"code": ts.code(secret)}, bearer(pair.AccessToken)), 200, "", nil)
	want(t, ts.do("GET", "/v1/keys", nil, bearer(pair.AccessToken)), 200, "", nil)
}

func TestMFAPolicy_Unknown(t *testing.T) {
	cfg := testConfig(&clock{})
	cfg.MFARequired = "admin"
	if _, err := server.New(cfg, nil, nil, nil); err == nil {
		t.Error("New accepted an unknown two-factor policy")
	}
}
