// Package web holds keygate's dashboard: plain HTML, CSS and JavaScript
// modules that need no build step, embedded in the binary so keygate
// serves them with no files beside it and no network access.
//
// index.html is the page served at /; every other file is served at
// /assets/{name} and referenced from the page by that address.
package web

import (
	"embed"
	"io/fs"
)

//go:embed index.html *.js *.css *.svg
var files embed.FS

// FS returns the embedded files, rooted so that "index.html" is the page
// served at / and "app.js" the script at /assets/app.js. The result is
// read-only and safe for concurrent use.
func FS() fs.FS { return files }
