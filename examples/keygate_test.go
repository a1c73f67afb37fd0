package examples_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// keygate is a running keygate process.
type keygate struct {
	addr string
}

// createdKey is the part of POST /v1/keys's answer the test uses.
type createdKey struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// startKeygate builds keygate and runs it with a tier of 3 requests a
// minute and one protected route, GET /api/, for nginx to ask about.
func startKeygate(t *testing.T) *keygate {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "keygate")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/keygate/keygate").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf(`listen = "127.0.0.1:0"
db_path = %q
[passwords]
bcrypt_cost = 4
[tiers.basic]
per_minute = 3
per_day = 1000
[[routes]]
method = "GET"
path = "/api/"
tiers = ["basic"]
`, filepath.Join(dir, "keygate.db"))
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "-config", config)
	addr, log := startWatched(t, cmd, regexp.MustCompile(`msg="keygate serving" addr=(\S+)`))
	select {
	case a := <-addr:
		return &keygate{addr: a}
	case <-time.After(10 * time.Second):
		t.Fatalf("keygate did not start\n%s", log)
		return nil
	}
}

// userWithKey registers a user, logs in and creates a key, returning the
// user's id and the key.
func (k *keygate) userWithKey(t *testing.T) (string, createdKey) {
	t.Helper()
	creds := `{"email":"ada@example.com","password":"correct horse battery"}`
	var reg struct {
		User struct{ ID string } `json:"user"`
	}
	k.call(t, "/v1/auth/register", "", creds, 201, &reg)
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	k.call(t, "/v1/auth/login", "", creds, 200, &pair)
	var key createdKey
	k.call(t, "/v1/keys", pair.AccessToken, `{"name":"nginx"}`, 201, &key)
	if reg.User.ID == "" || key.ID == "" || key.Key == "" {
		t.Fatalf("user id %q, key id %q, key empty %v", reg.User.ID, key.ID, key.Key == "")
	}
	return reg.User.ID, key
}

// call POSTs body to keygate directly, wants status and decodes into v.
func (k *keygate) call(t *testing.T, path, token, body string, want int, v any) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+k.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != want {
		t.Fatalf("POST %s = %d, want %d\n%s", path, res.StatusCode, want, data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("POST %s: %v\n%s", path, err, data)
	}
}
