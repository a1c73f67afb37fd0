package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestKeyCreate(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	auth := bearer(pair.AccessToken)
	tests := []struct {
		name   string
		header []string
		body   any
		status int
		code   string
	}{
		{"no token", nil, map[string]string{"name": "ci"}, 401, "unauthorized"},
		{"refresh token", []string{bearer(pair.RefreshToken)}, map[string]string{"name": "ci"}, 401, "unauthorized"},
		{"empty body", []string{auth}, nil, 400, "invalid_request"},
		{"missing name", []string{auth}, `{}`, 400, "invalid_request"},
		{"blank name", []string{auth}, map[string]string{"name": "  "}, 400, "invalid_request"},
		{"long name", []string{auth}, map[string]string{"name": strings.Repeat("n", 101)}, 400, "invalid_request"},
		{"control in name", []string{auth}, map[string]string{"name": "a\x00b"}, 400, "invalid_request"},
		{"unknown field", []string{auth}, `{"name":"ci","hash":"x"}`, 400, "invalid_request"},
		{"tier wrong type", []string{auth}, `{"name":"ci","tier":1}`, 400, "invalid_request"},
		{"unknown tier", []string{auth}, map[string]string{"name": "ci", "tier": "gold"}, 400, "invalid_request"},
		{"tier not granted", []string{auth}, map[string]string{"name": "ci", "tier": "pro"}, 403, "forbidden"},
		{"zero expires_in", []string{auth}, `{"name":"ci","expires_in":0}`, 400, "invalid_request"},
		{"negative expires_in", []string{auth}, `{"name":"ci","expires_in":-5}`, 400, "invalid_request"},
		{"fractional expires_in", []string{auth}, `{"name":"ci","expires_in":1.5}`, 400, "invalid_request"},
		{"huge expires_in", []string{auth}, `{"name":"ci","expires_in":99999999999999999999}`, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want(t, ts.do("POST", "/v1/keys", tc.body, tc.header...), tc.status, tc.code, nil)
		})
	}

	t.Run("ok", func(t *testing.T) {
		rec := ts.do("POST", "/v1/keys", map[string]any{"name": " ci ", "expires_in": 3600}, auth)
		var k key
		want(t, rec, 201, "", &k)
		if !strings.HasPrefix(k.Key, "kg_live_") || len(k.Key) != len("kg_live_")+43 {
			t.Errorf("raw key %q", k.Key)
		}
		if k.Prefix != k.Key[:12] || k.Name != "ci" || k.Tier != "basic" || !k.IsActive ||
			k.RateLimitPerMinute != 5 || k.RateLimitPerDay != 20 || k.LastUsedAt != nil ||
			k.ExpiresAt == nil || *k.ExpiresAt != "2026-11-26T13:00:00Z" || k.CreatedAt != "2026-11-26T12:00:00Z" {
			t.Errorf("key = %+v", k)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Error("raw key response may be cached")
		}
		// The raw key is shown once: no other route returns it.
		for _, path := range []string{"/v1/keys", "/v1/keys/" + k.ID, "/v1/keys/" + k.ID + "/usage"} {
			body := ts.do("GET", path, nil, auth).Body.String()
			if strings.Contains(body, k.Key) || strings.Contains(body, k.Key[12:]) || strings.Contains(body, `"key"`) {
				t.Errorf("GET %s shows the raw key: %s", path, body)
			}
		}
	})
}

func TestKeyCreate_ActiveLimit(t *testing.T) {
	ts := newTestServer(t) // MaxKeysPerUser: 5
	_, pair := ts.signUp("ada@example.com")
	var ids []string
	for i := range 5 {
		ids = append(ids, ts.newKey(pair.AccessToken, map[string]any{"name": "k", "expires_in": 60 * (i + 1)}).ID)
	}
	want(t, ts.do("POST", "/v1/keys", map[string]string{"name": "sixth"}, bearer(pair.AccessToken)), 403, "forbidden", nil)
	// A revoked key and an expired key no longer count.
	if rec := ts.do("DELETE", "/v1/keys/"+ids[4], nil, bearer(pair.AccessToken)); rec.Code != 204 {
		t.Fatalf("revoke = %d", rec.Code)
	}
	ts.newKey(pair.AccessToken, map[string]string{"name": "sixth"})
	want(t, ts.do("POST", "/v1/keys", map[string]string{"name": "seventh"}, bearer(pair.AccessToken)), 403, "forbidden", nil)
	ts.clock.Advance(61 * time.Second)
	ts.newKey(pair.AccessToken, map[string]string{"name": "seventh"})
}

func TestKeyCreate_ProTier(t *testing.T) {
	ts := newTestServer(t)
	u, pair := ts.signUp("ada@example.com")
	ts.grantTiers(u.ID, "basic", "pro")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "big", "tier": "pro"})
	if k.Tier != "pro" || k.RateLimitPerMinute != 100 || k.RateLimitPerDay != 1000 {
		t.Errorf("key = %+v", k)
	}
}

// Another user's key is 404 on every route, exactly like a missing one.
func TestKeys_OtherUsersKeyIsNotFound(t *testing.T) {
	ts := newTestServer(t)
	_, ada := ts.signUp("ada@example.com")
	_, bob := ts.signUp("bob@example.com")
	k := ts.newKey(ada.AccessToken, map[string]string{"name": "ada's"})
	for _, id := range []string{k.ID, "key_doesnotexist"} {
		for _, rt := range []struct{ method, path string }{
			{"GET", "/v1/keys/" + id},
			{"DELETE", "/v1/keys/" + id},
			{"POST", "/v1/keys/" + id + "/rotate"},
			{"GET", "/v1/keys/" + id + "/usage"},
		} {
			want(t, ts.do(rt.method, rt.path, nil, bearer(bob.AccessToken)), 404, "not_found", nil)
		}
	}
	var list struct{ Keys []key }
	want(t, ts.do("GET", "/v1/keys", nil, bearer(bob.AccessToken)), 200, "", &list)
	if len(list.Keys) != 0 {
		t.Errorf("bob sees %d keys", len(list.Keys))
	}
	// And ada's key still works.
	want(t, ts.chat(k.Key), 200, "", nil)
}

func TestKeyListAndGet(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	first := ts.newKey(pair.AccessToken, map[string]string{"name": "first"})
	ts.clock.Advance(time.Second)
	second := ts.newKey(pair.AccessToken, map[string]string{"name": "second"})
	want(t, ts.chat(second.Key), 200, "", nil)

	var list struct{ Keys []json.RawMessage }
	want(t, ts.do("GET", "/v1/keys", nil, bearer(pair.AccessToken)), 200, "", &list)
	if len(list.Keys) != 2 {
		t.Fatalf("%d keys", len(list.Keys))
	}
	var newest key
	if err := json.Unmarshal(list.Keys[0], &newest); err != nil {
		t.Fatal(err)
	}
	if newest.ID != second.ID || newest.LastUsedAt == nil || *newest.LastUsedAt != "2026-11-26T12:00:01Z" {
		t.Errorf("newest = %+v", newest)
	}
	for _, raw := range list.Keys {
		for _, field := range []string{`"hash"`, `"key"`, `"key_hash"`} {
			if strings.Contains(string(raw), field) {
				t.Errorf("listing has %s: %s", field, raw)
			}
		}
	}
	var got key
	want(t, ts.do("GET", "/v1/keys/"+first.ID, nil, bearer(pair.AccessToken)), 200, "", &got)
	if got.ID != first.ID || got.Name != "first" || got.LastUsedAt != nil || got.Key != "" {
		t.Errorf("get = %+v", got)
	}
}

func TestKeyRevoke(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	want(t, ts.chat(k.Key), 200, "", nil) // warm: the key is now answered from memory

	rec := ts.do("DELETE", "/v1/keys/"+k.ID, nil, bearer(pair.AccessToken))
	if rec.Code != 204 {
		t.Fatalf("revoke = %d %s", rec.Code, rec.Body)
	}
	want(t, ts.chat(k.Key), 401, "unauthorized", nil)
	var got key
	want(t, ts.do("GET", "/v1/keys/"+k.ID, nil, bearer(pair.AccessToken)), 200, "", &got)
	if got.IsActive {
		t.Error("revoked key listed as active")
	}
	if rec := ts.do("DELETE", "/v1/keys/"+k.ID, nil, bearer(pair.AccessToken)); rec.Code != 204 {
		t.Errorf("second revoke = %d", rec.Code)
	}
	want(t, ts.do("POST", "/v1/keys/"+k.ID+"/rotate", nil, bearer(pair.AccessToken)), 409, "conflict", nil)
}

func TestKeyExpiry(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]any{"name": "short", "expires_in": 60})
	want(t, ts.chat(k.Key), 200, "", nil)
	ts.clock.Advance(60 * time.Second)
	want(t, ts.chat(k.Key), 401, "unauthorized", nil)
	var got key
	want(t, ts.do("GET", "/v1/keys/"+k.ID, nil, bearer(pair.AccessToken)), 200, "", &got)
	if got.IsActive {
		t.Error("expired key listed as active")
	}
}

func TestKeyRotate(t *testing.T) {
	ts := newTestServer(t) // RotationGrace: 1h
	_, pair := ts.signUp("ada@example.com")
	auth := bearer(pair.AccessToken)
	old := ts.newKey(pair.AccessToken, map[string]any{"name": "ci", "expires_in": 7200})
	for range 3 {
		want(t, ts.chat(old.Key), 200, "", nil)
	}

	for _, body := range []string{`{"grace_seconds":-1}`, `{"grace_seconds":"1"}`, `{"grace":1}`, `[]`} {
		want(t, ts.do("POST", "/v1/keys/"+old.ID+"/rotate", body, auth), 400, "invalid_request", nil)
	}

	ts.clock.Advance(time.Minute)
	var next key
	want(t, ts.do("POST", "/v1/keys/"+old.ID+"/rotate", nil, auth), 201, "", &next)
	if next.Key == "" || next.Key == old.Key || next.Replaces != old.ID || next.Name != "ci" || next.Tier != "basic" ||
		next.ExpiresAt == nil || *next.ExpiresAt != "2026-11-26T14:01:00Z" {
		t.Fatalf("rotated = %+v", next)
	}
	want(t, ts.do("POST", "/v1/keys/"+old.ID+"/rotate", nil, auth), 409, "conflict", nil)

	// Both work during the grace period, sharing one bucket of five.
	want(t, ts.chat(old.Key), 200, "", nil)
	want(t, ts.chat(old.Key), 200, "", nil)
	for range 3 {
		want(t, ts.chat(next.Key), 200, "", nil)
	}
	want(t, ts.chat(next.Key), 429, "rate_limited", nil)
	want(t, ts.chat(old.Key), 429, "rate_limited", nil)

	ts.clock.Advance(time.Hour)
	want(t, ts.chat(old.Key), 401, "unauthorized", nil)
	want(t, ts.chat(next.Key), 200, "", nil)
	auth = bearer(ts.login("ada@example.com").AccessToken)

	// Today's count carried over: usage shows every request of the lineage.
	var usage struct {
		Days []struct {
			Date  string
			Count int64
		}
	}
	want(t, ts.do("GET", "/v1/keys/"+next.ID+"/usage?days=1", nil, auth), 200, "", &usage)
	if len(usage.Days) != 1 || usage.Days[0].Count != 9 {
		t.Errorf("usage = %+v, want 9 today", usage.Days)
	}
}

func TestKeyRotate_NoGrace(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	old := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	want(t, ts.chat(old.Key), 200, "", nil)
	var next key
	want(t, ts.do("POST", "/v1/keys/"+old.ID+"/rotate", `{"grace_seconds":0}`, bearer(pair.AccessToken)), 201, "", &next)
	want(t, ts.chat(old.Key), 401, "unauthorized", nil)
	want(t, ts.chat(next.Key), 200, "", nil)
}

func TestKeyUsage(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	auth := bearer(pair.AccessToken)
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	for _, q := range []string{"?days=0", "?days=-1", "?days=abc", "?days=367", "?days=1.5"} {
		want(t, ts.do("GET", "/v1/keys/"+k.ID+"/usage"+q, nil, auth), 400, "invalid_request", nil)
	}
	for range 2 {
		want(t, ts.chat(k.Key), 200, "", nil)
	}
	if err := ts.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	ts.clock.Advance(24 * time.Hour)
	ts.clock.Advance(time.Minute)
	want(t, ts.chat(k.Key), 200, "", nil) // not flushed yet: must still show
	auth = bearer(ts.login("ada@example.com").AccessToken)

	var usage struct {
		Days []struct {
			Date  string
			Count int64
		}
	}
	want(t, ts.do("GET", "/v1/keys/"+k.ID+"/usage", nil, auth), 200, "", &usage)
	if len(usage.Days) != 30 {
		t.Fatalf("%d days, want 30", len(usage.Days))
	}
	first, yesterday, today := usage.Days[0], usage.Days[28], usage.Days[29]
	if first.Date != "2026-10-29" || yesterday.Date != "2026-11-26" || yesterday.Count != 2 ||
		today.Date != "2026-11-27" || today.Count != 1 || first.Count != 0 {
		t.Errorf("usage = %+v ... %+v %+v", first, yesterday, today)
	}
}
