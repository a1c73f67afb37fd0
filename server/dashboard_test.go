package server_test

import (
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/web"
)

const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// webFiles is every embedded dashboard file and its content.
func webFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(web.FS(), ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := fs.ReadFile(web.FS(), name)
		files[name] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["index.html"]; !ok || len(files) < 3 {
		t.Fatalf("embedded files = %d, index.html present: %v", len(files), ok)
	}
	return files
}

// dashboardURL is where the server serves an embedded file.
func dashboardURL(name string) string {
	if name == "index.html" {
		return "/"
	}
	return "/assets/" + name
}

func TestDashboard_ServesEveryAsset(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.Assets = web.FS() })
	wantType := map[string]string{".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
	for name, content := range webFiles(t) {
		t.Run(name, func(t *testing.T) {
			rec := ts.do("GET", dashboardURL(name), nil)
			if rec.Code != http.StatusOK || rec.Body.String() != content {
				t.Fatalf("GET %s = %d, body equal: %v", dashboardURL(name), rec.Code, rec.Body.String() == content)
			}
			h := rec.Header()
			checks := []struct{ header, got, want string }{
				{"Content-Security-Policy", h.Get("Content-Security-Policy"), wantCSP},
				{"X-Content-Type-Options", h.Get("X-Content-Type-Options"), "nosniff"},
				{"Referrer-Policy", h.Get("Referrer-Policy"), "no-referrer"},
				{"Cache-Control", h.Get("Cache-Control"), "no-cache"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.header, c.got, c.want)
				}
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, wantType[path.Ext(name)]) || wantType[path.Ext(name)] == "" {
				t.Errorf("Content-Type = %q for %s", ct, name)
			}
			etag := h.Get("ETag")
			if len(etag) < 10 || !strings.HasPrefix(etag, `"`) {
				t.Fatalf("ETag = %q, want a strong ETag", etag)
			}
			again := ts.do("GET", dashboardURL(name), nil, "If-None-Match: "+etag)
			if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
				t.Errorf("revalidation = %d with %d bytes, want 304 and none", again.Code, again.Body.Len())
			}
		})
	}
}

func TestDashboard_NotFound(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.Assets = web.FS() })
	for _, p := range []string{"/assets/nope.js", "/assets/index.html", "/assets/", "/index.html", "/app.js"} {
		t.Run(p, func(t *testing.T) {
			want(t, ts.do("GET", p, nil), http.StatusNotFound, "not_found", nil)
		})
	}
	noAssets := newTestServer(t, func(c *server.Config) { c.Assets = nil })
	want(t, noAssets.do("GET", "/", nil), http.StatusNotFound, "not_found", nil)
	want(t, noAssets.do("GET", "/assets/app.js", nil), http.StatusNotFound, "not_found", nil)
}

// The dashboard's whole weight, uncompressed (issue 5: under 150 KB).
func TestWeb_SizeBudget(t *testing.T) {
	total := 0
	for _, content := range webFiles(t) {
		total += len(content)
	}
	if total >= 150*1024 {
		t.Errorf("dashboard is %d bytes, budget 150 KiB", total)
	}
	t.Logf("dashboard: %d bytes", total)
}

// The dashboard works offline: nothing is loaded from another host. The
// SVG namespace is an identifier, never fetched.
func TestWeb_NoExternalURL(t *testing.T) {
	url := regexp.MustCompile(`(?i)https?://[^\s"'<>)\x60]+`)
	for name, content := range webFiles(t) {
		for _, u := range url.FindAllString(content, -1) {
			if u != "http://www.w3.org/2000/svg" {
				t.Errorf("%s refers to %s", name, u)
			}
		}
		if strings.Contains(content, "//cdn") || strings.Contains(content, "@import") {
			t.Errorf("%s loads something from elsewhere", name)
		}
	}
}

// Tokens stay in memory: no web storage, and API data never becomes HTML.
func TestWeb_ScriptsKeepNoSecrets(t *testing.T) {
	banned := []string{"localStorage", "sessionStorage", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("}
	for name, content := range webFiles(t) {
		if path.Ext(name) != ".js" {
			continue
		}
		for _, b := range banned {
			if strings.Contains(content, b) {
				t.Errorf("%s uses %s", name, b)
			}
		}
	}
}

// The CSP forbids inline script and style; the page must not need them.
func TestWeb_NoInlineScriptOrStyle(t *testing.T) {
	var (
		script  = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
		styleEl = regexp.MustCompile(`(?i)<style\b`)
		attr    = regexp.MustCompile(`(?i)\s(style|on[a-z]+)\s*=`)
	)
	for name, content := range webFiles(t) {
		if path.Ext(name) != ".html" {
			continue
		}
		for _, m := range script.FindAllStringSubmatch(content, -1) {
			if strings.TrimSpace(m[2]) != "" || !strings.Contains(m[1], "src=") {
				t.Errorf("%s has an inline script: %s", name, m[0])
			}
		}
		if styleEl.MatchString(content) {
			t.Errorf("%s has a <style> element", name)
		}
		for _, m := range attr.FindAllString(content, -1) {
			t.Errorf("%s has an inline attribute:%s", name, m)
		}
	}
}
