package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the keygate executable built once for the tests that run the
// real process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keygate-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "keygate")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running keygate.
type proc struct {
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
	exited chan error
}

// syncBuffer is a bytes.Buffer the reading goroutine and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testConfigFile writes a config with a cheap bcrypt cost and its own
// database, listening on a free port.
func testConfigFile(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	return writeConfigAt(t, dir, fmt.Sprintf("listen = \"127.0.0.1:0\"\ndb_path = %q\n[passwords]\nbcrypt_cost = 4\n", filepath.Join(dir, "keygate.db")))
}

func writeConfigAt(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var servingLine = regexp.MustCompile(`msg="keygate serving" addr=(\S+)`)

// start runs keygate serve with config and waits until it listens.
func start(t *testing.T, config string) *proc {
	t.Helper()
	cmd := exec.Command(binary, "serve", "-config", config)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: new(syncBuffer), exited: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.stderr.WriteString(sc.Text() + "\n")
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case a := <-addr:
		p.base = "http://" + a
	case err := <-p.exited:
		t.Fatalf("keygate exited before serving: %v\n%s", err, p.stderr)
	case <-time.After(60 * time.Second): // generous: start-up hashes a dummy bcrypt password, slow under -race on a loaded machine
		t.Fatalf("keygate did not start\n%s", p.stderr)
	}
	return p
}

// call sends a JSON request and decodes a JSON answer into v (if not nil).
func (p *proc) call(t *testing.T, method, path, body string, v any, header ...string) int {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range header {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, data, err)
		}
	}
	return res.StatusCode
}

// login registers (if needed) and logs in, returning an access token.
func (p *proc) login(t *testing.T, register bool) string {
	t.Helper()
	creds := `{"email":"ada@example.com","password":"correct horse battery"}`
	if register {
		if code := p.call(t, "POST", "/v1/auth/register", creds, nil); code != 201 {
			t.Fatalf("register = %d", code)
		}
	}
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	if code := p.call(t, "POST", "/v1/auth/login", creds, &pair); code != 200 {
		t.Fatalf("login = %d", code)
	}
	return pair.AccessToken
}

func (p *proc) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-p.exited:
		return err
	case <-time.After(within):
		t.Fatalf("keygate still running after %s\n%s", within, p.stderr)
		return nil
	}
}

// A key acknowledged with 201 survives a SIGKILL sent right after it.
func TestBinary_KillKeepsAcknowledgedKeys(t *testing.T) {
	config := testConfigFile(t)
	p := start(t, config)
	access := p.login(t, true)
	type created struct{ ID, Key string }
	create := func(name string) created {
		var k created
		if code := p.call(t, "POST", "/v1/keys", `{"name":"`+name+`"}`, &k, "Authorization: Bearer "+access); code != 201 {
			t.Fatalf("create = %d", code)
		}
		return k
	}
	revoked := create("revoked")
	if code := p.call(t, "DELETE", "/v1/keys/"+revoked.ID, "", nil, "Authorization: Bearer "+access); code != 204 {
		t.Fatalf("revoke = %d", code)
	}
	var keys []created
	for i := range 9 {
		keys = append(keys, create(fmt.Sprint("k", i)))
	}
	// SIGKILL straight after the last 201: no shutdown, no flush.
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, 5*time.Second)

	p = start(t, config)
	access = p.login(t, false) // the secret was kept: and the user too
	var list struct{ Keys []struct{ ID string } }
	if code := p.call(t, "GET", "/v1/keys", "", &list, "Authorization: Bearer "+access); code != 200 || len(list.Keys) != 10 {
		t.Fatalf("after kill: %d, %d keys, want 10", code, len(list.Keys))
	}
	for _, k := range keys {
		if code := p.call(t, "POST", "/v1/chat", `{"message":"hi"}`, nil, "X-API-Key: "+k.Key); code != 200 {
			t.Errorf("key %s after kill: %d", k.ID, code)
		}
	}
	if code := p.call(t, "POST", "/v1/chat", `{}`, nil, "X-API-Key: "+revoked.Key); code != 401 {
		t.Errorf("revoked key after kill: %d", code)
	}
}

// SIGTERM drains, flushes the counters and exits 0.
func TestBinary_TermFlushesCounts(t *testing.T) {
	config := testConfigFile(t)
	p := start(t, config)
	access := p.login(t, true)
	var k struct{ ID, Key string }
	p.call(t, "POST", "/v1/keys", `{"name":"ci"}`, &k, "Authorization: Bearer "+access)
	for range 7 {
		if code := p.call(t, "POST", "/v1/chat", `{}`, nil, "X-API-Key: "+k.Key); code != 200 {
			t.Fatalf("chat = %d", code)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t, 10*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr)
	}
	p = start(t, config)
	// The access token from before the restart still works: the generated
	// secret was kept in the database.
	if code := p.call(t, "GET", "/v1/me", "", nil, "Authorization: Bearer "+access); code != 200 {
		t.Fatalf("old access token after restart: %d", code)
	}
	var usage struct{ Days []struct{ Count int64 } }
	p.call(t, "GET", "/v1/keys/"+k.ID+"/usage?days=1", "", &usage, "Authorization: Bearer "+access)
	if len(usage.Days) != 1 || usage.Days[0].Count != 7 {
		t.Errorf("usage after restart = %+v, want 7", usage.Days)
	}
}

// A second keygate on the same database gives up within two seconds,
// saying why; so does user create while the server runs.
func TestBinary_SecondProcessFailsFast(t *testing.T) {
	config := testConfigFile(t)
	start(t, config)
	for _, args := range [][]string{{"serve", "-config", config}, {"user", "create", "-config", config, "-email", "x@example.com"}} {
		cmd := exec.Command(binary, args...)
		cmd.Stdin = strings.NewReader("a long password\n")
		began := time.Now()
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%v: second process succeeded", args)
		}
		if took := time.Since(began); took > 2*time.Second {
			t.Errorf("%v: took %s to fail", args, took)
		}
		if !strings.Contains(string(out), "in use") {
			t.Errorf("%v: message %q does not say the file is in use", args, out)
		}
	}
}

func TestBinary_UserCreateAdmin(t *testing.T) {
	config := testConfigFile(t)
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(binary, append([]string{"user", "create", "-config", config}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"correct horse battery\n", nil, "email"},
		{"correct horse battery\n", []string{"-email", "nope"}, "email"},
		{"", []string{"-email", "root@example.com"}, "no password"},
		{"short\n", []string{"-email", "root@example.com"}, "password"},
		{"correct horse battery\n", []string{"-email", "root@example.com", "-tiers", "gold"}, "gold"},
	} {
		if out, err := run(tc.stdin, tc.args...); err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%v: %v %q, want an error about %q", tc.args, err, out, tc.want)
		}
	}
	if out, err := run("correct horse battery\r\n", "-email", "Ada@Example.com", "-admin", "-tiers", "basic,pro"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := run("correct horse battery\n", "-email", "ada@example.com"); err == nil || !strings.Contains(out, "exists") {
		t.Errorf("duplicate: %v %q", err, out)
	}
	p := start(t, config)
	access := p.login(t, false)
	var me struct {
		User struct {
			Role  string
			Tiers []string
		}
	}
	p.call(t, "GET", "/v1/me", "", &me, "Authorization: Bearer "+access)
	if me.User.Role != "admin" || len(me.User.Tiers) != 2 {
		t.Errorf("me = %+v", me.User)
	}
}

// With EdDSA, a rotation keeps the old public key published and its tokens
// valid, while new tokens are signed with the new key.
func TestBinary_JWTRotate(t *testing.T) {
	dir := t.TempDir()
	config := writeConfigAt(t, dir, fmt.Sprintf("listen = \"127.0.0.1:0\"\ndb_path = %q\n[passwords]\nbcrypt_cost = 4\n[jwt]\nalgorithm = \"EdDSA\"\n", filepath.Join(dir, "keygate.db")))
	type jwks struct{ Keys []struct{ Kid string } }
	p := start(t, config)
	var before jwks
	if code := p.call(t, "GET", "/.well-known/jwks.json", "", &before); code != 200 || len(before.Keys) != 1 {
		t.Fatalf("jwks = %d %+v", code, before)
	}
	oldToken := p.login(t, true)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 10*time.Second)

	out, err := exec.Command(binary, "jwt", "rotate", "-config", config).CombinedOutput()
	if err != nil {
		t.Fatalf("rotate: %v %s", err, out)
	}
	p = start(t, config)
	var after jwks
	p.call(t, "GET", "/.well-known/jwks.json", "", &after)
	if len(after.Keys) != 2 || after.Keys[1].Kid != before.Keys[0].Kid {
		t.Fatalf("after rotation: %+v, want the new key then %s", after, before.Keys[0].Kid)
	}
	if code := p.call(t, "GET", "/v1/me", "", nil, "Authorization: Bearer "+oldToken); code != 200 {
		t.Errorf("token of the old key after rotation: %d", code)
	}
	newToken := p.login(t, false)
	if kid := tokenKid(t, newToken); kid != after.Keys[0].Kid {
		t.Errorf("new token kid %q, want %q", kid, after.Keys[0].Kid)
	}
	// A leaked key is dropped at once: its tokens stop working.
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 10*time.Second)
	if out, err := exec.Command(binary, "jwt", "rotate", "-config", config, "-drop-old").CombinedOutput(); err != nil {
		t.Fatalf("rotate -drop-old: %v %s", err, out)
	}
	p = start(t, config)
	var dropped jwks
	p.call(t, "GET", "/.well-known/jwks.json", "", &dropped)
	if len(dropped.Keys) != 1 || dropped.Keys[0].Kid == after.Keys[0].Kid {
		t.Errorf("after -drop-old: %+v, want only a new key", dropped)
	}
	if code := p.call(t, "GET", "/v1/me", "", nil, "Authorization: Bearer "+newToken); code != 401 {
		t.Errorf("token of a dropped key: %d, want 401", code)
	}
}

// With HS256, rotation replaces the generated secret: it asks for
// -drop-old, because every token and session ends at once.
func TestBinary_JWTRotateHS256(t *testing.T) {
	config := testConfigFile(t)
	p := start(t, config)
	oldToken := p.login(t, true)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 10*time.Second)

	out, err := exec.Command(binary, "jwt", "rotate", "-config", config).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "-drop-old") {
		t.Errorf("rotate without -drop-old: %v %s", err, out)
	}
	out, err = exec.Command(binary, "jwt", "rotate", "-config", config, "-drop-old").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1 session(s) ended") {
		t.Fatalf("rotate -drop-old: %v %s", err, out)
	}
	p = start(t, config)
	if code := p.call(t, "GET", "/v1/me", "", nil, "Authorization: Bearer "+oldToken); code != 401 {
		t.Errorf("token signed with the old secret: %d, want 401", code)
	}
	newToken := p.login(t, false)
	if code := p.call(t, "GET", "/v1/me", "", nil, "Authorization: Bearer "+newToken); code != 200 {
		t.Errorf("token signed with the new secret: %d, want 200", code)
	}

	// A secret set in the configuration is changed there.
	withSecret := writeConfigAt(t, t.TempDir(), "[jwt]\nsecret = \"0123456789abcdef0123456789abcdef\"\n")
	out, err = exec.Command(binary, "jwt", "rotate", "-config", withSecret, "-drop-old").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "change it there") {
		t.Errorf("rotate with jwt.secret set: %v %s", err, out)
	}
}

func tokenKid(t *testing.T, token string) string {
	t.Helper()
	header, _, _ := strings.Cut(token, ".")
	data, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// backup makes a copy that check passes and that serves the same data;
// check fails on a damaged file.
func TestBinary_BackupAndCheck(t *testing.T) {
	config := testConfigFile(t)
	p := start(t, config)
	access := p.login(t, true)
	var k struct{ ID, Key string }
	p.call(t, "POST", "/v1/keys", `{"name":"ci"}`, &k, "Authorization: Bearer "+access)
	cmd := func(args ...string) (string, error) {
		out, err := exec.Command(binary, args...).CombinedOutput()
		return string(out), err
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	if msg, err := cmd("backup", "-config", config, "-out", out); err == nil || !strings.Contains(msg, "/v1/admin/backup") {
		t.Errorf("backup while serving: %v %q", err, msg)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 10*time.Second)

	if msg, err := cmd("backup", "-config", config); err == nil || !strings.Contains(msg, "-out") {
		t.Errorf("backup without -out: %v %q", err, msg)
	}
	if msg, err := cmd("backup", "-config", config, "-out", out); err != nil {
		t.Fatalf("backup: %v %s", err, msg)
	}
	if msg, err := cmd("check", "-config", config); err != nil || !strings.Contains(msg, "ok") {
		t.Errorf("check: %v %s", err, msg)
	}
	// Restoring is copying the file back: serve the backup and find the key.
	dir := t.TempDir()
	restored := writeConfigAt(t, dir, fmt.Sprintf("listen = \"127.0.0.1:0\"\ndb_path = %q\n[passwords]\nbcrypt_cost = 4\n", out))
	p = start(t, restored)
	if code := p.call(t, "POST", "/v1/chat", `{}`, nil, "X-API-Key: "+k.Key); code != 200 {
		t.Errorf("key from the backup: %d", code)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 10*time.Second)

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// Every page but the two meta pages: the freelist, the root and all data.
	// (A small database's live pages can all sit below any fixed offset.)
	for i := 2 * 4096; i < len(data); i++ {
		data[i] = 0xA5
	}
	if err := os.WriteFile(out, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := cmd("check", "-config", restored); err == nil || !strings.Contains(msg, "damaged") {
		t.Errorf("check of a damaged file: %v %q", err, msg)
	}
}

func TestBinary_VersionAndUsage(t *testing.T) {
	out, err := exec.Command(binary, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "keygate ") {
		t.Errorf("version: %v %q", err, out)
	}
	out, err = exec.Command(binary, "frobnicate").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown command") {
		t.Errorf("unknown command: %v %q", err, out)
	}
}

// serveInProcess runs serve with args until stop, which fails the test if
// serve returned an error, and returns the address it listens on.
func serveInProcess(t *testing.T, args []string, stderr io.Writer, getenv func(string) string) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, args, stderr, getenv, ready) }()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(60 * time.Second): // generous: start-up hashes a dummy bcrypt password, slow under -race on a loaded machine
		t.Fatal("not ready")
	}
	return addr, func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// With no file and no flags, keygate serves with its defaults, keeping its
// data in keygate.db in the working directory.
func TestServe_Defaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	env := map[string]string{"KEYGATE_LISTEN": "127.0.0.1:0"}
	var logs syncBuffer
	addr, stop := serveInProcess(t, nil, &logs, func(k string) string { return env[k] })
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
	stop()
	info, err := os.Stat(filepath.Join(dir, "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("keygate.db mode %o, want 600", perm)
	}
	if strings.Contains(logs.String(), "bcrypt_cost below 10") {
		t.Errorf("the default bcrypt cost was warned about:\n%s", logs.String())
	}
}

// A bcrypt cost fit only for tests is allowed, and said so at start.
func TestBinary_WarnsOfLowBcryptCost(t *testing.T) {
	p := start(t, testConfigFile(t)) // bcrypt_cost = 4
	if !strings.Contains(p.stderr.String(), "bcrypt_cost below 10") {
		t.Errorf("no warning for bcrypt_cost 4:\n%s", p.stderr)
	}
}

// SIGHUP re-reads the file: tiers and routes change for the next request;
// a bad file keeps the running configuration and says why; a setting that
// cannot change live is reported as needing a restart.
func TestBinary_ReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	base := fmt.Sprintf("listen = \"127.0.0.1:0\"\ndb_path = %q\n[passwords]\nbcrypt_cost = 4\n", filepath.Join(dir, "keygate.db"))
	config := writeConfigAt(t, dir, base+"[tiers.basic]\nper_minute = 100\nper_day = 1000\n")
	p := start(t, config)
	access := p.login(t, true)
	var k struct{ ID, Key string }
	p.call(t, "POST", "/v1/keys", `{"name":"ci"}`, &k, "Authorization: Bearer "+access)
	chat := func(path string) int {
		return p.call(t, "POST", path, `{}`, nil, "X-API-Key: "+k.Key)
	}
	if code := chat("/v1/chat"); code != 200 {
		t.Fatalf("chat = %d", code)
	}
	if code := chat("/v1/extra"); code != 404 {
		t.Fatalf("extra before reload = %d", code)
	}
	hup := func(want string) {
		t.Helper()
		p.cmd.Process.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(p.stderr.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after SIGHUP:\n%s", want, p.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Lower the limit and add a route.
	writeConfigAt(t, dir, base+"[tiers.basic]\nper_minute = 2\nper_day = 1000\n"+
		"[[routes]]\nmethod = \"POST\"\npath = \"/v1/chat\"\ntiers = [\"basic\"]\n"+
		"[[routes]]\nmethod = \"POST\"\npath = \"/v1/extra\"\ntiers = [\"basic\"]\n")
	hup("configuration reloaded")
	if code := chat("/v1/extra"); code != 200 {
		t.Errorf("new route after reload = %d", code)
	}
	var limit string
	for range 3 {
		req, _ := http.NewRequest("POST", p.base+"/v1/chat", strings.NewReader("{}"))
		req.Header.Set("X-API-Key", k.Key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		limit = res.Header.Get("X-RateLimit-Limit")
	}
	if limit != "2" {
		t.Errorf("X-RateLimit-Limit after reload = %q, want 2", limit)
	}
	// A broken file changes nothing and the log says what is wrong.
	writeConfigAt(t, dir, base+"[tiers.basic]\nper_minute = 0\nper_day = 1000\n")
	hup("tiers.basic.per_minute")
	if code := chat("/v1/extra"); code != 200 && code != 429 {
		t.Errorf("route lost after a bad reload: %d", code)
	}
	// The listen address cannot change live.
	writeConfigAt(t, dir, strings.Replace(base, "127.0.0.1:0", "127.0.0.1:1", 1)+"[tiers.basic]\nper_minute = 2\nper_day = 1000\n")
	hup("setting=listen")
}

// [metrics] listen serves GET /metrics, and nothing else, on an address
// of its own until shutdown; an empty address serves nothing.
func TestListenMetrics(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "keygate_up 1\n") })
	if m, err := listenMetrics(t.Context(), "", h, log); m != nil || err != nil {
		t.Fatalf("empty address: %v, %v", m, err)
	}
	m, err := listenMetrics(t.Context(), "127.0.0.1:0", h, log)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + m.addr.String()
	for path, wantStatus := range map[string]int{"/metrics": 200, "/healthz": 404} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != wantStatus {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, wantStatus)
		}
	}
	if _, err := listenMetrics(t.Context(), m.addr.String(), h, log); err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Errorf("an address in use: %v", err)
	}
	if err := m.shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if res, err := http.Get(base + "/metrics"); err == nil {
		res.Body.Close()
		t.Error("still serving after shutdown")
	}
}

// [metrics] enabled with no listen serves GET /metrics on the main
// listener; off, as by default, it is a 404 there.
func TestServe_Metrics(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprint("enabled=", enabled), func(t *testing.T) {
			dir := t.TempDir()
			path := writeConfigAt(t, dir, fmt.Sprintf("listen = \"127.0.0.1:0\"\ndb_path = %q\n[metrics]\nenabled = %v\n",
				filepath.Join(dir, "keygate.db"), enabled))
			addr, stop := serveInProcess(t, []string{"-config", path}, io.Discard, noEnv)
			res, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			stop()
			if got := res.StatusCode == 200 && strings.Contains(string(body), "# TYPE keygate_http_requests_total counter"); got != enabled {
				t.Errorf("GET /metrics: %d %.200s", res.StatusCode, body)
			}
		})
	}
}

// A database restored or copied with a looser mode is made private again
// on start, and the log says so.
func TestBinary_DatabaseKeptPrivate(t *testing.T) {
	config := testConfigFile(t)
	p := start(t, config)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 10*time.Second)
	cfg, err := loadConfig(config, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg.DBPath, 0o644); err != nil {
		t.Fatal(err)
	}
	p = start(t, config)
	info, err := os.Stat(cfg.DBPath)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("mode after start = %v, %v; want 0600", info.Mode().Perm(), err)
	}
	if !strings.Contains(p.stderr.String(), "mode is now 0600") {
		t.Errorf("no warning logged:\n%s", p.stderr)
	}
}

// A configuration file that holds jwt.secret and that others can read is
// reported at start; one only its owner reads, or no secret, is not.
func TestWarnReadableSecret(t *testing.T) {
	dir := t.TempDir()
	secret := writeConfigAt(t, dir, "[jwt]\nsecret = \"0123456789abcdef0123456789abcdef\"\n")
	for _, tc := range []struct {
		mode os.FileMode
		env  string
		want bool
	}{
		{0o644, "", true},
		{0o640, "", true},
		{0o600, "", false},
		{0o644, "from-the-environment-0123456789abcdef", false},
	} {
		if err := os.Chmod(secret, tc.mode); err != nil {
			t.Fatal(err)
		}
		getenv := func(k string) string {
			if k == "KEYGATE_JWT_SECRET" {
				return tc.env
			}
			return ""
		}
		cfg, err := loadConfig(secret, getenv)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		warnReadableSecret(secret, cfg, getenv, slog.New(slog.NewTextHandler(&out, nil)))
		if got := strings.Contains(out.String(), "chmod 600"); got != tc.want {
			t.Errorf("mode %04o env %q: warned %v, want %v: %q", tc.mode, tc.env, got, tc.want, out.String())
		}
	}
}
