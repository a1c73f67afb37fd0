package e2e_test

import (
	"encoding/base32"
	"strings"
	"testing"

	"github.com/keygate/keygate/server"
)

// With mfa.required = "all", a user without two-factor authentication who
// signs in lands on the account page with the reason, whatever link they
// follow, until they turn it on; then the rest of the dashboard opens.
func TestMFAPolicy(t *testing.T) {
	kg := startKeygate(t, func(c *server.Config) { c.MFARequired = server.MFAAll })
	b := newBrowser(t, kg.URL)
	t.Cleanup(b.check)
	kg.register(t, "ada@example.com", false)

	b.open("")
	b.waitText("#main h1", "Sign in")
	b.signIn("ada@example.com", password)
	b.waitText("#main h1", "Account")
	b.waitText("#account-notice", "two-factor authentication before anything else")
	b.click(`#nav a[href="#/keys"]`)
	b.waitText("#account-notice", "two-factor authentication before anything else")

	b.click("#mfa-enable")
	b.waitJS(`document.activeElement?.id === 'mfa-password'`)
	b.fill("#mfa-password", password)
	b.click("#mfa-submit")
	b.waitJS(`document.activeElement?.id === 'mfa-secret'`)
	raw := strings.ReplaceAll(eval[string](b, `document.getElementById('mfa-secret').value`), " ", "")
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(raw)
	if err != nil {
		t.Fatalf("secret %q: %v", raw, err)
	}
	app := &authenticator{secret: secret}
	b.fill("#mfa-code", app.code())
	b.click("#mfa-submit")
	b.waitJS(recoveryCodesAreTenShown)
	b.click("#mfa-codes-done")
	b.waitText("#mfa-status", "On")

	b.click(`#nav a[href="#/keys"]`)
	b.waitText("#main h1", "API keys")
}
