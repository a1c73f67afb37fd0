// Package web holds keygate's browser-facing files, embedded in the binary
// so it serves them with no files beside it.
package web

import (
	"embed"
	"io/fs"
)

//go:embed index.html
var files embed.FS

// FS returns the embedded files, rooted so that "index.html" is the page
// served at /.
func FS() fs.FS { return files }
