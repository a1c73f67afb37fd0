package server

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/storage"
)

func strPtr(s string) *string { return &s }

// keyViewSeeds are views with every field shape: nulls and values, empty
// and set omitempty fields, and strings json.Marshal must escape.
var keyViewSeeds = []keyView{
	{},
	{ID: "key_1", Name: "laptop", Prefix: "kg_live_abcd", Tier: "basic", RateLimitPerMinute: 60,
		RateLimitPerDay: 1 << 40, IsActive: true, CreatedAt: "2026-11-26T12:00:00Z"},
	{ID: "key_2", Name: `<"ünï" & \ 	tab` + "\x00\x1f\u2028\u2029\xff>", Prefix: "p", Tier: "pro",
		RateLimitPerMinute: -1, RateLimitPerDay: -5, CreatedAt: "2026-11-26T12:00:00Z",
		LastUsedAt: strPtr("2026-11-26T12:00:01Z"), ExpiresAt: strPtr("2027-11-26T12:00:00Z"),
		RevokedAt: strPtr(""), Replaces: "key_1", ReplacedBy: "key_3", Key: "kg_live_secret"},
}

// The key list is encoded by hand exactly as encoding/json encodes it.
func TestAppendKeyView_AsEncodingJSON(t *testing.T) {
	for _, v := range keyViewSeeds {
		checkKeyView(t, v)
	}
}

func checkKeyView(t *testing.T, v keyView) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendKeyView(nil, &v); !bytes.Equal(got, want) {
		t.Fatalf("appendKeyView\n got %s\nwant %s", got, want)
	}
}

func FuzzAppendKeyView(f *testing.F) {
	for _, v := range keyViewSeeds {
		f.Add(v.ID, v.Name, v.Replaces, v.Key, int64(v.RateLimitPerMinute), v.IsActive, v.LastUsedAt != nil)
	}
	f.Fuzz(func(t *testing.T, id, name, replaces, key string, n int64, active, used bool) {
		v := keyView{ID: id, Name: name, Prefix: name, Tier: id, RateLimitPerMinute: int(n), RateLimitPerDay: -n,
			IsActive: active, CreatedAt: key, Replaces: replaces, ReplacedBy: name, Key: key}
		if used {
			v.LastUsedAt, v.RevokedAt = &name, &replaces
		}
		checkKeyView(t, v)
	})
}

// GET /v1/keys answers what writeJSON gave before it was encoded by hand
// (issue 6), for no keys and for keys in every state.
func TestAppendKeyList_AsWriteJSON(t *testing.T) {
	db, err := storage.Open(filepath.Join(t.TempDir(), "k.db"), storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(Config{Tiers: map[string]limiter.Limits{"basic": {PerMinute: 5, PerDay: 20}}}, db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	keys := []storage.APIKey{
		{ID: "key_1", Name: "plain", Prefix: "kg_live_aaaa", Tier: "basic", CreatedAt: now},
		{ID: "key_2", Name: "<rotated & gone>", Prefix: "kg_live_bbbb", Tier: "retired", CreatedAt: now.Add(-time.Hour),
			ExpiresAt: now.Add(time.Hour), RevokedAt: now.Add(-time.Minute), LastUsedAt: now.Add(-2 * time.Minute),
			Replaces: "key_0", ReplacedBy: "key_1"},
		{ID: "key_3", Name: "in grace", Prefix: "kg_live_cccc", Tier: "basic", CreatedAt: now.Add(-time.Hour),
			ExpiresAt: now.Add(-time.Second), RevokedAt: now.Add(time.Minute)},
	}
	for _, list := range [][]storage.APIKey{nil, keys[:1], keys} {
		views := make([]keyView, 0, len(list))
		for _, k := range list {
			views = append(views, s.viewKey(k, now))
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(map[string][]keyView{"keys": views}); err != nil {
			t.Fatal(err)
		}
		if got := s.appendKeyList(nil, list, now); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("appendKeyList\n got %s\nwant %s", got, want.Bytes())
		}
	}
}
