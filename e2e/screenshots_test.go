package e2e_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// update rewrites the committed screenshots:
//
//	go test ./e2e -run TestScreenshots -args -update
var update = flag.Bool("update", false, "rewrite docs/screenshots/*.png")

// screenshotDir is docs/screenshots at the repository's root.
const screenshotDir = "../docs/screenshots"

// viewports are the sizes every page is shown at: a laptop and a phone.
var viewports = []struct {
	name          string
	width, height int64
}{
	{"desktop", 1280, 800},
	{"mobile", 390, 844},
}

// TestScreenshots shows every page of the dashboard at both sizes. It
// checks that each renders; with -update it writes the images that the
// README shows.
func TestScreenshots(t *testing.T) {
	kg := startKeygate(t)
	b := newBrowser(t, kg.URL)
	t.Cleanup(b.check)
	kg.register(t, "admin@example.com", true)
	kg.register(t, "ada@example.com", false)

	b.open("")
	b.waitText("#main h1", "Sign in")
	b.shoot("sign-in")

	b.signIn("admin@example.com", password)
	b.waitText("#keys-list", "No keys yet")
	b.createKey("staging")
	b.createKey("production")
	b.shoot("key-dialog")
	b.click("#key-dialog-close")
	b.waitText("#keys-list", "production")
	for range 3 {
		if status := kg.chat(t, b.lastKey); status != http.StatusOK {
			t.Fatalf("chat = %d", status)
		}
	}
	if err := kg.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.reload()
	b.waitText("#keys-list", "production")
	b.shoot("keys")

	b.click(`#keys-list a.key-name`)
	b.waitText("#today-count", "3 of 100 requests")
	b.shoot("usage")

	b.open("#/account")
	b.waitText("#sessions-list", "this session")
	b.shoot("account")

	b.click("#mfa-enable")
	b.fill("#mfa-password", password)
	b.click("#mfa-submit")
	b.waitJS(`document.activeElement?.id === 'mfa-secret'`)
	eval[bool](b, `(document.getElementById('mfa').scrollIntoView(), true)`)
	b.shoot("mfa-enrol")

	b.open("#/admin/users")
	b.waitText("#users-list", "ada@example.com")
	b.shoot("admin-users")

	b.open("#/admin/audit")
	b.waitText("#audit", "key.created")
	b.shoot("audit")
}

// createKey creates a key of the first tier offered through the form and leaves its dialog open; lastKey is the raw key.
func (b *browser) createKey(name string) {
	b.t.Helper()
	b.fill("#key-name", name)
	b.click("#create-submit")
	b.lastKey = b.rawKey()
	if name != "production" {
		b.click("#key-dialog-close")
		b.waitText("#keys-list", name)
	}
}

// shoot captures the page at every viewport; with -update it writes
// docs/screenshots/{name}-{viewport}.png.
func (b *browser) shoot(name string) {
	b.t.Helper()
	for _, v := range viewports {
		b.do(chromedp.EmulateViewport(v.width, v.height))
		b.waitJS(fmt.Sprintf(`window.innerWidth === %d && document.fonts.status === 'loaded'`, v.width))
		time.Sleep(100 * time.Millisecond) // one more frame for the layout to settle
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		img, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(img))
		if err != nil || int64(cfg.Width) != v.width || int64(cfg.Height) != v.height {
			b.t.Fatalf("screenshot %s-%s: %dx%d, %v", name, v.name, cfg.Width, cfg.Height, err)
		}
		if !*update {
			continue
		}
		if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(screenshotDir, name+"-"+v.name+".png"), img, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do(chromedp.EmulateViewport(viewports[0].width, viewports[0].height))
}
