package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/storage"
)

// unknownKey returns a well-formed raw key that matches no stored key.
func unknownKey(t testing.TB, seed string) string {
	t.Helper()
	raw, _, _, err := auth.NewKey("kg_live_", fakeRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// fakeRand is a deterministic random source derived from seed.
func fakeRand(seed string) *rand.ChaCha8 { return rand.NewChaCha8(sha256.Sum256([]byte(seed))) }

func TestProtectedRoute_UnknownKeyNeedsNoDisk(t *testing.T) {
	ts := newTestServer(t)
	_, pair := ts.signUp("ada@example.com")
	ts.newKey(pair.AccessToken, map[string]string{"name": "ci"})
	ts.WaitKeyFilter()
	if err := ts.db.Close(); err != nil {
		t.Fatal(err)
	}
	// With the store gone, a lookup would answer 500: a 401 shows none was made.
	for i := range 3 {
		want(t, ts.chat(unknownKey(t, fmt.Sprint(i))), 401, "unauthorized", nil)
	}
	ts.open() // for the cleanup
}

// A presented hash sharing its first 8 bytes with a stored key's hash is
// not refused by the filter: it goes to the store, which alone can tell.
func TestProtectedRoute_PrefixCollisionAsksTheStore(t *testing.T) {
	ts := newTestServer(t)
	u, _ := ts.signUp("ada@example.com")
	raw := unknownKey(t, "collide")
	hash, err := auth.ParseKey("kg_live_", raw)
	if err != nil {
		t.Fatal(err)
	}
	twin := hash
	twin[31] ^= 1 // same prefix, another hash
	stored := storage.APIKey{ID: "key_twin", UserID: u.ID, Name: "twin", Prefix: "kg_live_twin", Tier: "basic", Hash: twin, CreatedAt: ts.clock.Now()}
	if err := ts.db.CreateAPIKey(context.Background(), stored, 0, ts.clock.Now()); err != nil {
		t.Fatal(err)
	}
	ts.restart() // the twin is loaded from the store, as a key stored while stopped
	ts.WaitKeyFilter()
	if err := ts.db.Close(); err != nil {
		t.Fatal(err)
	}
	want(t, ts.chat(unknownKey(t, "other")), 401, "unauthorized", nil)
	want(t, ts.chat(raw), 500, "internal", nil) // the store was asked, and is closed
	ts.open()
}

func TestProtectedRoute_KeyStoredWhileStopped(t *testing.T) {
	ts := newTestServer(t)
	u, _ := ts.signUp("ada@example.com")
	var raws []string
	for i := range 2 {
		raw, hash, display, err := auth.NewKey("kg_live_", fakeRand(fmt.Sprint("stored", i)))
		if err != nil {
			t.Fatal(err)
		}
		k := storage.APIKey{ID: fmt.Sprint("key_stored", i), UserID: u.ID, Name: "loaded", Prefix: display, Tier: "basic", Hash: hash, CreatedAt: ts.clock.Now()}
		if err := ts.db.CreateAPIKey(context.Background(), k, 0, ts.clock.Now()); err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	ts.restart()
	// Whether or not the load has finished, the key works.
	want(t, ts.chat(raws[0]), 200, "", nil)
	ts.WaitKeyFilter()
	want(t, ts.chat(raws[1]), 200, "", nil)
	want(t, ts.chat(unknownKey(t, "never")), 401, "unauthorized", nil)
}

func TestKeys_CreatedAndRotatedKeysWorkAtOnce(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.MaxKeysPerUser = 100 })
	ts.WaitKeyFilter() // loaded: a key the filter were not told of would be refused
	_, pair := ts.signUp("ada@example.com")
	k := ts.newKey(pair.AccessToken, map[string]string{"name": "first"})
	want(t, ts.chat(k.Key), 200, "", nil)
	var next key
	want(t, ts.do("POST", "/v1/keys/"+k.ID+"/rotate", nil, bearer(pair.AccessToken)), 201, "", &next)
	want(t, ts.chat(next.Key), 200, "", nil)
}

func TestKeys_ConcurrentCreatesWorkAtOnce(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.MaxKeysPerUser = 100 })
	ts.WaitKeyFilter()
	_, pair := ts.signUp("ada@example.com")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				var k key
				rec := ts.do("POST", "/v1/keys", map[string]string{"name": fmt.Sprint(w, "-", i)}, bearer(pair.AccessToken))
				if rec.Code != http.StatusCreated {
					t.Errorf("create: %d %s", rec.Code, rec.Body)
					return
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &k); err != nil {
					t.Error(err)
					return
				}
				if rec := ts.chat(k.Key); rec.Code != http.StatusOK {
					t.Errorf("new key: %d %s", rec.Code, rec.Body)
				}
				if rec := ts.chat(unknownKey(t, fmt.Sprint(w, "/", i))); rec.Code != http.StatusUnauthorized {
					t.Errorf("unknown key: %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
	wg.Wait()
}
