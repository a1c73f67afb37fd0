package e2e_test

import (
	"encoding/base32"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/auth"
)

// TestMFA walks two-factor authentication through the dashboard (issue 7):
// turning it on, signing in with a code and with a recovery code, new
// recovery codes, turning it off, and an administrator turning it off
// for a user who lost their device. Like TestDashboard, each step starts
// where the one before left the browser.
func TestMFA(t *testing.T) {
	kg := startKeygate(t)
	b := newBrowser(t, kg.URL)
	t.Cleanup(b.check)
	kg.register(t, "admin@example.com", true)
	kg.register(t, "ada@example.com", false)

	var (
		app                   *authenticator
		recovery, newRecovery []string
		wrongPasswordError    string
	)
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"off at first", func(t *testing.T) {
			b.open("")
			b.waitText("#main h1", "Sign in")
			b.fill("#signin-email", "ada@example.com", "#signin-password", "not the password")
			b.click("#signin-submit")
			b.waitJS(signinErrorShown)
			wrongPasswordError = eval[string](b, `document.getElementById('signin-error').textContent`)
			b.signIn("ada@example.com", password)
			b.click(`#nav a[href="#/account"]`)
			b.waitText("#mfa-status", "Off")
			checkNoPlaceholders(t, b, "#mfa-body")
		}},
		{"turn on", func(t *testing.T) {
			b.click("#mfa-enable")
			b.waitJS(`document.activeElement?.id === 'mfa-password'`)
			b.fill("#mfa-password", "not the password")
			b.click("#mfa-submit")
			b.waitJS(mfaErrorShown)
			b.fill("#mfa-password", password)
			b.click("#mfa-submit")
			b.waitJS(`document.getElementById('mfa-secret')?.value !== undefined && document.activeElement?.id === 'mfa-secret'`)

			shown := eval[string](b, `document.getElementById('mfa-secret').value`)
			if !groupedSecretPattern.MatchString(shown) {
				t.Fatalf("secret shown as %q, want base32 in groups of 4", shown)
			}
			raw := strings.ReplaceAll(shown, " ", "")
			secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(raw)
			if err != nil || len(secret) != 20 {
				t.Fatalf("secret %q: %d bytes, %v", raw, len(secret), err)
			}
			app = &authenticator{secret: secret}
			if url := eval[string](b, `document.getElementById('mfa-url').value`); !strings.HasPrefix(url, "otpauth://totp/") || !strings.Contains(url, "secret="+raw) {
				t.Errorf("otpauth URL shown = %q", url)
			}
			checkCodeInput(t, b, "#mfa-code")

			b.fill("#mfa-code", app.wrong())
			b.click("#mfa-submit")
			b.waitJS(mfaErrorShown)
			b.fill("#mfa-code", app.code())
			b.click("#mfa-submit")
			b.waitJS(recoveryCodesAreTenShown)
			b.waitText("#mfa-body", "you will not see them again")
			recovery = eval[[]string](b, recoveryCodesOnThePage)
			for _, c := range recovery {
				if !recoveryPattern.MatchString(c) {
					t.Errorf("recovery code %q is not xxxx-xxxx-xxxx-xxxx-xxxx-xxxx", c)
				}
			}
			if len(recovery) != 10 {
				t.Fatalf("%d recovery codes shown, want 10", len(recovery))
			}
			b.click("#mfa-codes-done")
			b.waitText("#mfa-status", "On")
			checkNoPlaceholders(t, b, "#mfa-body")
			if page := eval[string](b, `document.documentElement.outerHTML`); strings.Contains(page, recovery[0]) || strings.Contains(page, raw) {
				t.Error("the secret or a recovery code is still in the page after Done")
			}
			b.reload() // the status comes from the server
			b.waitText("#mfa-status", "On")
		}},
		{"sign in asks for the code", func(t *testing.T) {
			b.signOut()
			b.fill("#signin-email", "ada@example.com", "#signin-password", password)
			b.click("#signin-submit")
			b.waitJS(codePromptShown)
			if !eval[bool](b, `document.getElementById('signin-error').hidden`) {
				t.Error("the code prompt came with an error")
			}
			checkCodeInput(t, b, "#signin-code")

			b.fill("#signin-code", app.wrong())
			b.click("#signin-submit")
			b.waitJS(signinErrorShown)
			if got := eval[string](b, `document.getElementById('signin-error').textContent`); got != wrongPasswordError {
				t.Errorf("a wrong code shows %q, a wrong password %q: they must not differ", got, wrongPasswordError)
			}
			if !eval[bool](b, `document.getElementById('who').hidden`) {
				t.Fatal("signed in with a wrong code")
			}
			b.fill("#signin-code", app.code())
			b.click("#signin-submit")
			b.waitText("#who-email", "ada@example.com")
		}},
		{"sign in with a recovery code", func(t *testing.T) {
			b.signOut()
			b.fill("#signin-email", "ada@example.com", "#signin-password", password)
			b.click("#signin-submit")
			b.waitJS(codePromptShown)
			b.click("#signin-use-recovery")
			b.waitJS(`document.getElementById('signin-code').inputMode === 'text'`)
			b.fill("#signin-code", strings.ToUpper(recovery[0]))
			b.click("#signin-submit")
			b.waitText("#who-email", "ada@example.com")
			if got := kg.login(t, "ada@example.com", recovery[0]); got != http.StatusUnauthorized {
				t.Errorf("login with a spent recovery code = %d, want 401", got)
			}
		}},
		{"new recovery codes", func(t *testing.T) {
			b.click(`#nav a[href="#/account"]`)
			b.waitText("#mfa-status", "On")
			b.click("#mfa-regenerate")
			b.fill("#mfa-password", password, "#mfa-code", app.code())
			b.click("#mfa-submit")
			b.waitJS(recoveryCodesAreTenShown)
			newRecovery = eval[[]string](b, recoveryCodesOnThePage)
			for _, c := range newRecovery {
				if slices.Contains(recovery, c) {
					t.Errorf("new recovery code %q was in the old set", c)
				}
			}
			b.click("#mfa-codes-done")
			b.waitText("#mfa-status", "On")
			if got := kg.login(t, "ada@example.com", recovery[1]); got != http.StatusUnauthorized {
				t.Errorf("login with a recovery code of the old set = %d, want 401", got)
			}
		}},
		{"turn off", func(t *testing.T) {
			b.click("#mfa-disable")
			b.fill("#mfa-password", password, "#mfa-code", app.wrong())
			b.click("#mfa-submit")
			b.waitJS(mfaErrorShown)
			b.fill("#mfa-password", password, "#mfa-code", newRecovery[0])
			b.click("#mfa-submit")
			b.waitText("#mfa-status", "Off")
			b.waitText("#mfa-notice", "off")
			b.signOut()
			b.signIn("ada@example.com", password) // no code asked
			b.signOut()
		}},
		{"an administrator turns it off", func(t *testing.T) {
			kg.register(t, "bob@example.com", false)
			kg.enrol(t, "bob@example.com")
			if got := kg.login(t, "bob@example.com", ""); got != http.StatusUnauthorized {
				t.Fatalf("bob's login without a code = %d, want 401", got)
			}
			b.signIn("admin@example.com", password)
			b.click(`#nav a[href="#/admin/users"]`)
			bob := `#users-list tr:has(form[data-user="bob@example.com"])`
			b.waitJS(fmt.Sprintf(`document.querySelector(%s) !== null`, js(bob+` [data-mfa]`)))
			if eval[bool](b, `document.querySelector('#users-list tr:has(form[data-user="ada@example.com"]) [data-action="mfa-off"]') !== null`) {
				t.Error("ada, with two-factor off, has a button to turn it off")
			}
			b.confirmVia(bob+` button[data-action="mfa-off"]`, "bob@example.com")
			b.waitJS(fmt.Sprintf(`document.querySelector(%s) === null && document.querySelector(%s) !== null`,
				js(bob+` [data-mfa]`), js(bob+` [data-action="disable"]`)))
			if got := kg.login(t, "bob@example.com", ""); got != http.StatusOK {
				t.Errorf("bob's login with two-factor turned off = %d, want 200", got)
			}
		}},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			b.t = t
			s.run(t)
		})
		b.t = t
		if !ok {
			t.FailNow()
		}
		b.check()
	}
}

// Patterns and page states TestMFA looks for.
var (
	recoveryPattern      = regexp.MustCompile(`^[a-z2-7]{4}(-[a-z2-7]{4}){5}$`)
	groupedSecretPattern = regexp.MustCompile(`^[A-Z2-7]{4}( [A-Z2-7]{4})*( [A-Z2-7]{1,3})?$`)
)

const (
	signinErrorShown         = `!document.getElementById('signin-submit').disabled && !document.getElementById('signin-error').hidden`
	mfaErrorShown            = `!document.getElementById('mfa-submit').disabled && !document.getElementById('mfa-error').hidden`
	codePromptShown          = `!document.getElementById('signin-code-row').hidden && document.activeElement?.id === 'signin-code'`
	recoveryCodesOnThePage   = `[...document.querySelectorAll('#mfa-codes li')].map((li) => li.textContent)`
	recoveryCodesAreTenShown = `document.querySelectorAll('#mfa-codes li').length === 10 && document.activeElement?.id === 'mfa-codes-title'`
)

// checkNoPlaceholders fails the test when the element sel shows a value
// the page forgot to fill in or leave out.
func checkNoPlaceholders(t *testing.T, b *browser, sel string) {
	t.Helper()
	text := eval[string](b, fmt.Sprintf(`document.querySelector(%s).textContent`, js(sel)))
	for _, w := range []string{"null", "undefined", "[object", "NaN"} {
		if strings.Contains(text, w) {
			t.Errorf("%s shows %q: %q", sel, w, text)
		}
	}
}

// checkCodeInput checks that the code field at sel lets phones offer the
// code from a message and a keypad of digits.
func checkCodeInput(t *testing.T, b *browser, sel string) {
	t.Helper()
	attrs := eval[[]string](b, fmt.Sprintf(`(() => { const e = document.querySelector(%s); return [e.autocomplete, e.inputMode, e.labels[0]?.textContent || '']; })()`, js(sel)))
	if attrs[0] != "one-time-code" || attrs[1] != "numeric" || attrs[2] != "Authentication code" {
		t.Errorf("%s: autocomplete, inputmode, label = %q", sel, attrs)
	}
}

// login signs in through the API with code (none when empty) and returns
// the status.
func (k *keygate) login(t *testing.T, email, code string) int {
	t.Helper()
	body := map[string]string{"email": email, "password": password}
	if code != "" {
		body["code"] = code
	}
	status, _ := k.api(t, "POST", "/v1/auth/login", "", body)
	return status
}

// enrol turns two-factor authentication on for email through the API.
func (k *keygate) enrol(t *testing.T, email string) *authenticator {
	t.Helper()
	status, tokens := k.api(t, "POST", "/v1/auth/login", "", map[string]string{"email": email, "password": password})
	if status != http.StatusOK {
		t.Fatalf("login %s = %d %v", email, status, tokens)
	}
	bearer, _ := tokens["access_token"].(string)
	status, body := k.api(t, "POST", "/v1/me/mfa/totp", bearer, map[string]string{"password": password})
	if status != http.StatusOK {
		t.Fatalf("POST /v1/me/mfa/totp = %d %v", status, body)
	}
	raw, _ := body["secret"].(string)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(raw)
	if err != nil {
		t.Fatalf("secret %q: %v", raw, err)
	}
	app := &authenticator{secret: secret}
	if status, body := k.api(t, "POST", "/v1/me/mfa/totp/confirm", bearer, map[string]string{"code": app.code()}); status != http.StatusOK {
		t.Fatalf("POST /v1/me/mfa/totp/confirm = %d %v", status, body)
	}
	return app
}

// authenticator plays the authenticator app for one secret. keygate
// refuses a time step it has accepted before (replay protection), so
// code never offers a step twice: when the current one is spent it
// offers the next, which keygate accepts as one step of clock skew, and
// past that it waits for the clock.
type authenticator struct {
	secret []byte
	last   int64 // the last step offered; 0 before the first
}

func (a *authenticator) code() string {
	step := auth.TOTPStep(time.Now())
	if step <= a.last {
		step = a.last + 1
	}
	for step > auth.TOTPStep(time.Now())+1 {
		time.Sleep(200 * time.Millisecond)
	}
	a.last = step
	return auth.TOTPCode(a.secret, time.Unix(step*int64(auth.TOTPPeriod/time.Second), 0))
}

// wrong returns a well-formed code that matches no step near now.
func (a *authenticator) wrong() string {
	now := time.Now()
	near := map[string]bool{}
	for d := -3; d <= 3; d++ {
		near[auth.TOTPCode(a.secret, now.Add(time.Duration(d)*auth.TOTPPeriod))] = true
	}
	for i := 0; ; i++ {
		if c := fmt.Sprintf("%06d", i*7919%1000000); !near[c] {
			return c
		}
	}
}
