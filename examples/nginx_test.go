// Package examples_test runs the deployment examples in this directory
// against the real programs: nginx.conf in front of a real keygate and an
// upstream that records what reaches it.
package examples_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nginx.conf in front of keygate: 401 without a valid key, 403 for what no
// route admits (whatever X-Forwarded-Uri the client sends), 200 with the
// identity headers set by keygate alone, then 429 with Retry-After.
func TestNginx_ForwardAuth(t *testing.T) {
	nginx := nginxBinary(t)
	kg := startKeygate(t)
	up := newUpstream(t)
	front := startNginx(t, nginx, kg.addr, up.addr)
	userID, key := kg.userWithKey(t)

	cases := []struct {
		name       string
		method     string
		path       string
		header     []string // "Name: value"
		wantStatus int
		check      func(t *testing.T, res *http.Response, body []byte, seen *http.Request)
	}{
		{
			name: "no key", method: "GET", path: "/api/items",
			wantStatus: 401, check: notForwarded(wantChallenge),
		},
		{
			name: "unknown key", method: "GET", path: "/api/items",
			header:     []string{"Authorization: Bearer kg_live_0000000000000000000000000000000000000000000"},
			wantStatus: 401, check: notForwarded(wantChallenge),
		},
		{
			name: "method no route admits", method: "POST", path: "/api/items",
			header:     []string{"X-API-Key: " + key.Key},
			wantStatus: 403, check: notForwarded(nil),
		},
		{
			name: "spoofed original URI", method: "GET", path: "/admin/secret",
			header: []string{"X-API-Key: " + key.Key,
				"X-Forwarded-Uri: /api/items", "X-Forwarded-Method: GET",
				"X-Original-URI: /api/items", "X-Original-Method: GET"},
			wantStatus: 403, check: notForwarded(nil),
		},
		{
			name: "X-API-Key with spoofed identity", method: "GET", path: "/api/items?page=2",
			header: []string{"X-API-Key: " + key.Key,
				"X-Keygate-User-Id: usr_mallory", "X-Keygate-Key-Id: key_mallory", "X-Keygate-Tier: pro"},
			wantStatus: 200, check: forwarded("/api/items?page=2", userID, key.ID),
		},
		{
			name: "bearer key", method: "GET", path: "/api/items/7",
			header:     []string{"Authorization: Bearer " + key.Key},
			wantStatus: 200, check: forwarded("/api/items/7", userID, key.ID),
		},
		{
			name: "last request within the minute's 3", method: "GET", path: "/api/items",
			header:     []string{"Authorization: Bearer " + key.Key},
			wantStatus: 200, check: forwarded("/api/items", userID, key.ID),
		},
		{
			name: "over the limit", method: "GET", path: "/api/items",
			header:     []string{"Authorization: Bearer " + key.Key},
			wantStatus: 429, check: notForwarded(wantRateLimited),
		},
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, front+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tc.header {
				name, value, _ := strings.Cut(h, ": ")
				req.Header.Set(name, value)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("%s %s = %d, want %d\n%s", tc.method, tc.path, res.StatusCode, tc.wantStatus, body)
			}
			tc.check(t, res, body, up.next())
		})
	}
}

// notForwarded checks that the upstream saw nothing, then runs also.
func notForwarded(also func(t *testing.T, res *http.Response, body []byte)) func(*testing.T, *http.Response, []byte, *http.Request) {
	return func(t *testing.T, res *http.Response, body []byte, seen *http.Request) {
		t.Helper()
		if seen != nil {
			t.Errorf("upstream was reached: %s %s", seen.Method, seen.RequestURI)
		}
		if also != nil {
			also(t, res, body)
		}
	}
}

// forwarded checks that the upstream got uri with keygate's identity and
// neither the key nor anything the client claimed about itself.
func forwarded(uri, userID, keyID string) func(*testing.T, *http.Response, []byte, *http.Request) {
	return func(t *testing.T, _ *http.Response, _ []byte, seen *http.Request) {
		t.Helper()
		if seen == nil {
			t.Fatal("upstream was not reached")
		}
		if seen.RequestURI != uri {
			t.Errorf("upstream URI = %q, want %q", seen.RequestURI, uri)
		}
		want := map[string]string{
			"X-Keygate-User-Id": userID,
			"X-Keygate-Key-Id":  keyID,
			"X-Keygate-Tier":    "basic",
		}
		for name, value := range want {
			if got := seen.Header.Values(name); len(got) != 1 || got[0] != value {
				t.Errorf("upstream %s = %q, want [%q]", name, got, value)
			}
		}
		for _, name := range []string{"Authorization", "X-Api-Key"} {
			if got := seen.Header.Values(name); len(got) != 0 {
				t.Errorf("upstream got the credential in %s", name)
			}
		}
	}
}

func wantChallenge(t *testing.T, res *http.Response, _ []byte) {
	t.Helper()
	if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Errorf("WWW-Authenticate = %q, want Bearer", got)
	}
}

func wantRateLimited(t *testing.T, res *http.Response, body []byte) {
	t.Helper()
	if n, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After = %q, want whole seconds >= 1", res.Header.Get("Retry-After"))
	}
	var e struct{ Error string }
	if err := json.Unmarshal(body, &e); err != nil || e.Error != "rate_limited" {
		t.Errorf("body = %s, want error rate_limited (%v)", body, err)
	}
}

// nginxBinary finds nginx on PATH or where distributions put it (PATH often
// lacks /usr/sbin). Without it the test is skipped, unless CI is "true".
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nginx not found on PATH or in /usr/sbin, and CI=true: .ci/run should have installed it")
	}
	t.Skip("nginx not installed (apt-get install nginx); skipping the nginx integration test")
	return ""
}

// upstream is the protected API: it answers 200 and queues each request it
// gets, so a test can see exactly what nginx let through.
type upstream struct {
	addr string
	seen chan *http.Request
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{seen: make(chan *http.Request, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.seen <- r.Clone(r.Context())
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	u.addr = srv.Listener.Addr().String()
	return u
}

// next returns the request the upstream got since the last call, or nil.
// nginx answers only after the upstream has, so nothing is in flight.
func (u *upstream) next() *http.Request {
	select {
	case r := <-u.seen:
		return r
	default:
		return nil
	}
}

// startNginx runs examples/nginx.conf, pointed at keygate and upstream, in
// a throwaway prefix directory, and returns its base URL.
func startNginx(t *testing.T, nginx, keygateAddr, upstreamAddr string) string {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	server := nginxServerConf(t, port, keygateAddr, upstreamAddr)
	if err := os.WriteFile(filepath.Join(dir, "server.conf"), []byte(server), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxMainConf(t, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-p", dir+string(filepath.Separator), "-c", conf)
	_, log := startWatched(t, cmd, nil)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitListening(addr, 5*time.Second); err != nil {
		errorLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Fatalf("nginx did not start: %v\nstderr:\n%s\nerror.log:\n%s", err, log, errorLog)
	}
	return "http://" + addr
}

// nginxServerConf is examples/nginx.conf with its placeholder addresses
// replaced; a placeholder gone from the file fails the test.
func nginxServerConf(t *testing.T, port int, keygateAddr, upstreamAddr string) string {
	t.Helper()
	data, err := os.ReadFile("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	placeholders := []string{
		"listen 80;", "listen 127.0.0.1:" + strconv.Itoa(port) + ";",
		"127.0.0.1:8080", keygateAddr,
		"127.0.0.1:9000", upstreamAddr,
	}
	for i := 0; i < len(placeholders); i += 2 {
		if !bytes.Contains(data, []byte(placeholders[i])) {
			t.Fatalf("nginx.conf no longer contains %q, which this test replaces", placeholders[i])
		}
	}
	// One pass, so a replacement is never replaced again.
	return strings.NewReplacer(placeholders...).Replace(string(data))
}

// nginxMainConf is the boilerplate a distribution's nginx.conf would give:
// everything under dir, in the foreground, with no root needed.
func nginxMainConf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("daemon off;\n")
	if os.Geteuid() == 0 {
		// Workers would otherwise drop to nobody, who cannot enter dir.
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "user %s %s;\n", u.Username, g.Name)
	}
	p := func(name string) string { return strconv.Quote(filepath.Join(dir, name)) }
	fmt.Fprintf(&b, "pid %s;\nerror_log %s warn;\nevents { worker_connections 64; }\n", p("nginx.pid"), p("error.log"))
	fmt.Fprintf(&b, "http {\n    access_log %s;\n", p("access.log"))
	for _, temp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "    %s_temp_path %s;\n", temp, p(temp))
	}
	fmt.Fprintf(&b, "    include %s;\n}\n", p("server.conf"))
	return b.String()
}
