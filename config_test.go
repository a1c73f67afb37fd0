package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The committed config.toml must say exactly what keygate does with no file.
func TestConfigFileMatchesDefaults(t *testing.T) {
	got, err := loadConfig("config.toml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if want := defaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("config.toml = %+v\ndefaults   = %+v", got, want)
	}
}

func TestLoadConfig_NoFile(t *testing.T) {
	t.Chdir(t.TempDir())
	got, err := loadConfig("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, defaultConfig()) {
		t.Errorf("got %+v", got)
	}
	if _, err := loadConfig("missing.toml", noEnv); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("an explicit missing file: %v", err)
	}
}

func TestLoadConfig_Errors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string // all must appear in the error
	}{
		{"unknown top-level key", "listen = \"x:1\"\nlisten_addr = \"y\"\n", []string{"line 2", `"listen_addr"`}},
		{"unknown nested key", "[jwt]\nissuer = \"a\"\n\n[keys]\nprefx = \"x\"\n", []string{"line 5", `"keys.prefx"`}},
		{"unknown tier field", "[tiers.basic]\nper_minute = 1\nper_day = 1\nper_hour = 3\n", []string{"line 4", "tiers.basic.per_hour"}},
		{"bad duration", "[jwt]\naccess_ttl = \"30 minutes\"\n", []string{"line 2", "access_ttl", "duration"}},
		{"wrong type", "max_body_bytes = \"big\"\n", []string{"max_body_bytes"}},
		{"not toml", "listen = \n", []string{"line 1"}},
		{"short secret", "[jwt]\nsecret = \"short\"\n", []string{"jwt.secret", "32"}},
		{"other algorithm", "[jwt]\nalgorithm = \"RS256\"\n", []string{"jwt.algorithm"}},
		{"lower-case algorithm", "[jwt]\nalgorithm = \"eddsa\"\n", []string{"jwt.algorithm"}},
		{"bcrypt cost", "[passwords]\nbcrypt_cost = 3\n", []string{"passwords.bcrypt_cost"}},
		{"bad prefix", "[keys]\nprefix = \"kg live\"\n", []string{"keys.prefix"}},
		{"no basic tier", "[tiers.gold]\nper_minute = 1\nper_day = 1\n", []string{"tiers.basic"}},
		{"zero per_minute", "[tiers.basic]\nper_minute = 0\nper_day = 1\n", []string{"tiers.basic.per_minute"}},
		{"missing per_day", "[tiers.basic]\nper_minute = 5\n", []string{"tiers.basic.per_day"}},
		{"route with unknown tier", "[[routes]]\nmethod = \"POST\"\npath = \"/x\"\ntiers = [\"gold\"]\n", []string{"routes[0].tiers", "gold"}},
		{"route with bad method", "[[routes]]\nmethod = \"post\"\npath = \"/x\"\ntiers = [\"basic\"]\n", []string{"routes[0].method"}},
		{"route with a bad upstream", "[[routes]]\nmethod = \"POST\"\npath = \"/x\"\ntiers = [\"basic\"]\nupstream = \"127.0.0.1:9\"\n", []string{"routes[0].upstream"}},
		{"route with a bad upstream timeout", "[[routes]]\nmethod = \"POST\"\npath = \"/x\"\ntiers = [\"basic\"]\nupstream = \"http://127.0.0.1:9\"\nupstream_timeout = \"soon\"\n", []string{"line 6", "upstream_timeout"}},
		{"upstream timeout without upstream", "[[routes]]\nmethod = \"POST\"\npath = \"/x\"\ntiers = [\"basic\"]\nupstream_timeout = \"5s\"\n", []string{"routes[0].upstream_timeout"}},
		{"negative grace", "[keys]\nrotation_grace = \"-1h\"\n", []string{"keys.rotation_grace"}},
		{"bad trusted proxy", "trusted_proxies = [\"10.0.0.0/8\", \"proxy.local\"]\n", []string{"trusted_proxies[1]", "proxy.local"}},
		{"trusted proxies not a list", "trusted_proxies = \"10.0.0.1\"\n", []string{"trusted_proxies"}},
		{"zero login throttle", "[throttle]\nlogin_per_minute = 0\n", []string{"throttle.login_per_minute"}},
		{"unknown throttle key", "[throttle]\nlogin_per_hour = 5\n", []string{"line 2", "throttle.login_per_hour"}},
		{"negative audit age", "[audit]\nmax_age = \"-1h\"\n", []string{"audit.max_age"}},
		{"unknown mfa policy", "[mfa]\nrequired = \"admin\"\n", []string{"mfa.required", `"admin"`}},
		{"metrics listen without enabled", "[metrics]\nlisten = \"127.0.0.1:9100\"\n", []string{"metrics.listen", "metrics.enabled"}},
		{"metrics listen not host:port", "[metrics]\nenabled = true\nlisten = \"9100\"\n", []string{"metrics.listen", `"9100"`}},
		{"metrics listen is listen", "listen = \"127.0.0.1:8080\"\n[metrics]\nenabled = true\nlisten = \"127.0.0.1:8080\"\n", []string{"metrics.listen"}},
		{"unknown metrics key", "[metrics]\npath = \"/m\"\n", []string{"line 2", "metrics.path"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			_, err := loadConfig(path, noEnv)
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoadConfig_Unreadable(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadConfig(dir, noEnv); err == nil {
		t.Error("a directory loaded as a config file")
	}
}

func TestLoadConfig_FileAndEnv(t *testing.T) {
	path := writeConfig(t, `
listen = "0.0.0.0:9000"
[jwt]
access_ttl = "5m"
[tiers.basic]
per_minute = 10
per_day = 100
[tiers.gold]
per_minute = 1000
per_day = 1000000
`)
	env := map[string]string{
		"KEYGATE_DB_PATH":    "/var/lib/keygate/kg.db",
		"KEYGATE_JWT_SECRET": strings.Repeat("s", 32),
	}
	got, err := loadConfig(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got.Listen != "0.0.0.0:9000" || got.DBPath != "/var/lib/keygate/kg.db" || got.JWT.Secret != strings.Repeat("s", 32) ||
		got.JWT.AccessTTL.Duration != 5*time.Minute || got.JWT.RefreshTTL.Duration != 168*time.Hour {
		t.Errorf("got %+v", got)
	}
	// A [tiers] table replaces the built-in one: "pro" is gone.
	if len(got.Tiers) != 2 || got.Tiers["gold"].PerMinute != 1000 || got.Tiers["basic"].PerDay != 100 {
		t.Errorf("tiers = %+v", got.Tiers)
	}
	// With no [[routes]], the built-in /v1/chat admits the tiers defined.
	if len(got.Routes) != 1 || !reflect.DeepEqual(got.Routes[0].Tiers, []string{"basic", "gold"}) {
		t.Errorf("routes = %+v", got.Routes)
	}
	env["KEYGATE_LISTEN"] = "127.0.0.1:7000"
	env["KEYGATE_JWT_SECRET"] = "too short"
	if _, err := loadConfig(path, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "jwt.secret") {
		t.Errorf("short secret from the environment: %v", err)
	}
}
