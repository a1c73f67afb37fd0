package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestDashboard walks the dashboard's flows in order, as one person would:
// each step starts where the one before left the browser.
func TestDashboard(t *testing.T) {
	kg := startKeygate(t)
	b := newBrowser(t, kg.URL)
	t.Cleanup(b.check)
	kg.register(t, "admin@example.com", true)

	var firstKey, rotatedKey string
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"sign up and sign out", func(t *testing.T) {
			b.open("")
			b.waitText("#main h1", "Sign in")
			b.fill("#signup-email", "ada@example.com", "#signup-password", "short")
			b.click("#signup-submit")
			b.waitText("#signup-error", "password")
			b.fill("#signup-email", "ada@example.com", "#signup-password", password)
			b.click("#signup-submit")
			b.waitText("#who-email", "ada@example.com")
			b.waitText("#keys-list", "No keys yet")
			b.signOut()
		}},
		{"sign in and survive a reload", func(t *testing.T) {
			b.signIn("ada@example.com", password)
			b.waitText("#main h1", "API keys")
			b.reload()
			b.waitText("#who-email", "ada@example.com")
			b.waitText("#main h1", "API keys")
			stored := eval[int](b, `localStorage.length + sessionStorage.length`)
			if stored != 0 {
				t.Errorf("web storage holds %d items; tokens must stay in memory", stored)
			}
			if c := eval[string](b, `document.cookie`); c != "" {
				t.Errorf("document.cookie = %q; the refresh cookie must be HttpOnly", c)
			}
		}},
		{"create a key and use it", func(t *testing.T) {
			b.fill("#key-name", "   ") // passes the browser's required check, not the server's
			b.click("#create-submit")
			b.waitText("#create-error", "name")
			b.fill("#key-name", "ci bot")
			b.click("#create-submit")
			firstKey = b.rawKey()
			if !strings.HasPrefix(firstKey, "kg_live_") {
				t.Fatalf("dialog shows key %q", firstKey)
			}
			if curl := eval[string](b, `document.getElementById('new-key-curl').value`); !strings.Contains(curl, firstKey) || !strings.Contains(curl, kg.URL+"/v1/chat") {
				t.Errorf("curl command = %q", curl)
			}
			b.click("#key-dialog-close")
			b.waitText("#keys-list", "ci bot")
			if html := eval[string](b, `document.documentElement.outerHTML + document.getElementById('new-key-value').value + document.getElementById('new-key-curl').value`); strings.Contains(html, firstKey) {
				t.Error("the raw key is still in the page after its dialog closed")
			}
			if got := kg.chat(t, firstKey); got != http.StatusOK {
				t.Fatalf("chat with the new key = %d", got)
			}
		}},
		{"usage counts the call", func(t *testing.T) {
			if err := kg.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			b.reload()
			b.waitText("#keys-list", "ci bot")
			b.click("#keys-list a.key-name")
			b.waitText("#today-count", "1 of 100 requests")
			if bars := eval[int](b, `document.querySelectorAll('svg.chart rect.bar').length`); bars != 30 {
				t.Errorf("chart has %d bars, want 30", bars)
			}
			if n := eval[string](b, `document.querySelector('svg.chart rect.bar.today').getAttribute('data-count')`); n != "1" {
				t.Errorf("today's bar counts %s, want 1", n)
			}
		}},
		{"rotate", func(t *testing.T) {
			b.open("#/keys")
			b.waitText("#keys-list", "ci bot")
			b.click(`#keys-list button[data-action="rotate"]`)
			b.fill("#rotate-grace", "0")
			b.click("#rotate-ok")
			rotatedKey = b.rawKey()
			if rotatedKey == "" || rotatedKey == firstKey {
				t.Fatalf("rotated key = %q", rotatedKey)
			}
			b.click("#key-dialog-close")
			b.waitText("#keys-list", "rotated")
			if got := kg.chat(t, rotatedKey); got != http.StatusOK {
				t.Errorf("chat with the rotated key = %d", got)
			}
			if got := kg.chat(t, firstKey); got != http.StatusUnauthorized {
				t.Errorf("chat with the replaced key, no grace = %d, want 401", got)
			}
		}},
		{"revoke", func(t *testing.T) {
			b.confirmVia(`#keys-list button[data-action="revoke"]`, "ci bot")
			b.waitText("#keys-list", "revoked")
			if got := kg.chat(t, rotatedKey); got != http.StatusUnauthorized {
				t.Errorf("chat with the revoked key = %d, want 401", got)
			}
		}},
		{"change password", func(t *testing.T) {
			b.click(`#nav a[href="#/account"]`)
			b.waitText("#sessions-list", "this session")
			b.fill("#current-password", "wrong password", "#new-password", "a new password", "#repeat-password", "a new password")
			b.click("#password-submit")
			b.waitText("#password-error", "password")
			b.fill("#current-password", password, "#new-password", "a new password", "#repeat-password", "a new password")
			b.click("#password-submit")
			b.waitText("#password-done", "Password changed")
		}},
		{"sign out everywhere", func(t *testing.T) {
			// The password change reloads the session list, which moves the
			// button: click it only once the list has settled.
			b.waitJS(`!document.querySelector('#sessions-list .loading') && document.querySelector('#sessions-list').textContent.includes('this session')`)
			b.confirmVia("#sign-out-everywhere", "every session")
			b.waitText("#main", "signed out everywhere")
			b.reload()
			b.waitText("#main h1", "Sign in")
			b.signIn("ada@example.com", "a new password")
			b.signOut()
		}},
		{"admin", func(t *testing.T) {
			b.signIn("admin@example.com", password)
			b.click(`#nav a[href="#/admin/users"]`)
			b.waitText("#users-list", "ada@example.com")
			row := `#users-list tr:has(form[data-user="ada@example.com"])`
			b.fill(row+" input", "basic, nope")
			b.click(row + " button[type=submit]")
			b.waitText(row, "unknown tier")
			b.fill(row+" input", "basic, pro")
			b.click(row + " button[type=submit]")
			b.waitText(row, "Saved")
			b.confirmVia(row+` button[data-action="disable"]`, "")
			b.waitText(row, "disabled")
			if status, _ := kg.api(t, "POST", "/v1/auth/login", "", map[string]string{"email": "ada@example.com", "password": "a new password"}); status != http.StatusUnauthorized {
				t.Errorf("login of a disabled user = %d, want 401", status)
			}
			b.click(row + ` button[data-action="enable"]`)
			b.waitJS(`document.querySelector(` + js(row+` button[data-action="disable"]`) + `) !== null`)
			b.click(row + " .row-actions button")
			b.waitText("#user-keys", "ci bot")
			b.click(`#nav a[href="#/admin/audit"]`)
			for _, action := range []string{"user.updated", "key.revoked", "key.rotated", "key.created", "user.registered"} {
				b.waitText("#audit", action)
			}
			b.signOut()
		}},
		{"429 says when to try again", func(t *testing.T) {
			// Five failures are free; the sixth is refused with 429.
			for range 6 {
				b.fill("#signin-email", "ada@example.com", "#signin-password", "not the password")
				b.click("#signin-submit")
				b.waitJS(`!document.getElementById('signin-submit').disabled && !document.getElementById('signin-error').hidden`)
			}
			b.waitText("#signin-error", "try again in")
			b.waitText("#signin-error", "seconds")
		}},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			b.t = t // failures belong to the step
			s.run(t)
		})
		b.t = t
		if !ok {
			t.FailNow() // later steps start where this one stopped
		}
		b.check()
	}
}

// rawKey waits for the one-time key dialog and returns the key it shows.
func (b *browser) rawKey() string {
	b.t.Helper()
	b.waitJS(`document.getElementById('key-dialog').open && document.getElementById('new-key-value').value !== ''`)
	b.waitText("#key-dialog", "you will not see this key again")
	return eval[string](b, `document.getElementById('new-key-value').value`)
}
