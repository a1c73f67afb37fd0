package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// The dashboard's security policy: scripts, styles and connections from
// keygate itself only, no inline script or style, no framing.
const dashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

const (
	indexFile   = "index.html"
	assetPrefix = "/assets/"
)

// errNoPage is the answer at / when no dashboard is embedded.
var errNoPage = errNotFound("no page here; the API is under /v1/")

// asset is one dashboard file, read once when the server is built.
type asset struct {
	body        []byte
	etag        string // strong: a hash of body
	contentType string
}

// dashboard serves the files of Config.Assets: index.html at / and every
// other file at /assets/{name}. Files are read and hashed once, so a new
// release (a new binary) gets new ETags and browsers revalidate each
// load (Cache-Control: no-cache) without re-downloading unchanged files.
// It is read-only after newDashboard, so safe for concurrent use.
type dashboard struct {
	files map[string]asset // by path in the FS; empty: no dashboard, every address a 404
}

// newDashboard reads every regular file of fsys; nil fsys serves nothing.
func newDashboard(fsys fs.FS) (*dashboard, error) {
	d := &dashboard{files: map[string]asset{}}
	if fsys == nil {
		return d, nil
	}
	err := fs.WalkDir(fsys, ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		d.files[name] = asset{body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, contentType: contentType(name)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("server: reading dashboard assets: %w", err)
	}
	return d, nil
}

// contentType is the media type of a dashboard file, by extension; files
// of other kinds are served as bytes the browser will not interpret.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	}
	return "application/octet-stream"
}

// handleIndex serves GET /: the dashboard's page.
func (d *dashboard) handleIndex(w http.ResponseWriter, r *http.Request) error {
	a, ok := d.files[indexFile]
	if !ok {
		return errNoPage
	}
	a.serve(w, r)
	return nil
}

// handleAsset serves GET /assets/{file...}: any dashboard file but the
// page itself, which has one address, /.
func (d *dashboard) handleAsset(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	a, ok := d.files[name]
	if !ok || name == indexFile {
		return errNotFound("no such asset: " + strings.TrimPrefix(r.URL.Path, assetPrefix))
	}
	a.serve(w, r)
	return nil
}

// serve writes a with the dashboard's headers. http.ServeContent answers
// If-None-Match with 304 and HEAD without a body.
func (a asset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
