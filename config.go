package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/keygate/keygate/auth"
)

// Config is keygate's configuration: config.toml over built-in defaults,
// then the KEYGATE_* environment variables over both.
type Config struct {
	Listen       string `toml:"listen"`
	DBPath       string `toml:"db_path"`
	AllowSignup  bool   `toml:"allow_signup"`
	MaxBodyBytes int64  `toml:"max_body_bytes"`

	TrustedProxies []string `toml:"trusted_proxies"`
	AccessLog      bool     `toml:"access_log"`

	JWT       JWTConfig       `toml:"jwt"`
	Passwords PasswordsConfig `toml:"passwords"`
	Sessions  SessionsConfig  `toml:"sessions"`
	Throttle  ThrottleConfig  `toml:"throttle"`
	Audit     AuditConfig     `toml:"audit"`
	MFA       MFAConfig       `toml:"mfa"`
	Keys      KeysConfig      `toml:"keys"`
	Metrics   MetricsConfig   `toml:"metrics"`
	Tiers     map[string]Tier `toml:"tiers"`
	Routes    []Route         `toml:"routes"`
}

// JWTConfig is the [jwt] table.
type JWTConfig struct {
	Algorithm  string   `toml:"algorithm"`
	Secret     string   `toml:"secret"`
	Issuer     string   `toml:"issuer"`
	Audience   string   `toml:"audience"`
	AccessTTL  Duration `toml:"access_ttl"`
	RefreshTTL Duration `toml:"refresh_ttl"`
}

// MFAConfig is the [mfa] table.
type MFAConfig struct {
	// Required is who must turn two-factor authentication on before their
	// sessions may do more: "none", "admins" or "all".
	Required string `toml:"required"`
}

// PasswordsConfig is the [passwords] table.
type PasswordsConfig struct {
	BcryptCost int `toml:"bcrypt_cost"`
	// BreachedList is a file of passwords new ones must not be: one a line,
	// as they are or as upper-case SHA-1 hex (the Have I Been Pwned
	// download); empty: none.
	BreachedList string `toml:"breached_list"`
}

// SessionsConfig is the [sessions] table.
type SessionsConfig struct {
	MaxAge     Duration `toml:"max_age"`
	MaxPerUser int      `toml:"max_per_user"`
}

// ThrottleConfig is the [throttle] table.
type ThrottleConfig struct {
	LoginPerMinute            int `toml:"login_per_minute"`
	SignupPerHour             int `toml:"signup_per_hour"`
	FailedLoginsBeforeBackoff int `toml:"failed_logins_before_backoff"`
}

// AuditConfig is the [audit] table.
type AuditConfig struct {
	MaxEvents int      `toml:"max_events"`
	MaxAge    Duration `toml:"max_age"`
}

// KeysConfig is the [keys] table.
type KeysConfig struct {
	Prefix        string   `toml:"prefix"`
	RotationGrace Duration `toml:"rotation_grace"`
	MaxPerUser    int      `toml:"max_per_user"`
}

// MetricsConfig is the [metrics] table. The zero value serves no metrics.
type MetricsConfig struct {
	Enabled bool   `toml:"enabled"` // serve GET /metrics in the Prometheus text format
	Listen  string `toml:"listen"`  // a separate address for it; empty: the main listener
}

// Tier is one [tiers.NAME] table.
type Tier struct {
	PerMinute int   `toml:"per_minute"`
	PerDay    int64 `toml:"per_day"`
}

// Route is one [[routes]] entry.
type Route struct {
	Method          string   `toml:"method"`
	Path            string   `toml:"path"`
	Tiers           []string `toml:"tiers"`
	Upstream        string   `toml:"upstream"`
	UpstreamTimeout Duration `toml:"upstream_timeout"`
}

// Duration is a time.Duration written as a Go duration string ("30m").
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (want e.g. \"30m\" or \"24h\"): %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// defaultConfig is what keygate runs with when there is no file at all.
// It must stay in step with config.toml (TestConfigFileMatchesDefaults).
func defaultConfig() Config {
	return Config{
		Listen:       "127.0.0.1:8080",
		DBPath:       "keygate.db",
		AllowSignup:  true,
		MaxBodyBytes: 64 << 10,
		JWT: JWTConfig{
			Algorithm:  "HS256",
			Issuer:     "keygate",
			Audience:   "keygate",
			AccessTTL:  Duration{30 * time.Minute},
			RefreshTTL: Duration{168 * time.Hour},
		},
		TrustedProxies: []string{},
		Passwords:      PasswordsConfig{BcryptCost: 12},
		Sessions:       SessionsConfig{MaxAge: Duration{30 * 24 * time.Hour}, MaxPerUser: 100},
		Throttle:       ThrottleConfig{LoginPerMinute: 20, SignupPerHour: 20, FailedLoginsBeforeBackoff: 5},
		Audit:          AuditConfig{MaxEvents: 100000, MaxAge: Duration{90 * 24 * time.Hour}},
		MFA:            MFAConfig{Required: "none"},
		Keys: KeysConfig{
			Prefix:        "kg_live_",
			RotationGrace: Duration{24 * time.Hour},
			MaxPerUser:    100,
		},
		Tiers: map[string]Tier{
			"basic": {PerMinute: 60, PerDay: 5000},
			"pro":   {PerMinute: 600, PerDay: 100000},
		},
		Routes: []Route{{Method: "POST", Path: "/v1/chat", Tiers: []string{"basic", "pro"}}},
	}
}

// loadConfig reads path over the defaults, then applies the environment.
// An empty path means config.toml in the working directory if it exists;
// a path given explicitly must exist.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	explicit := path != ""
	if !explicit {
		path = "config.toml"
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		data = nil
	case err != nil:
		return Config{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	applyEnv(&cfg, getenv)
	if err := cfg.validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parseConfig decodes TOML over the defaults. A file that has a [tiers]
// table replaces the built-in tiers rather than adding to them, so a tier
// can be removed; [[routes]] likewise replaces the built-in route. With
// tiers but no routes, the built-in /v1/chat admits every tier defined.
func parseConfig(data []byte) (Config, error) {
	cfg := defaultConfig()
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return Config{}, err
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		return Config{}, fmt.Errorf("%sunknown key %q", lineOf(data, keys[0]), keys[0].String())
	}
	if md.IsDefined("tiers") {
		for name := range cfg.Tiers {
			if !md.IsDefined("tiers", name) {
				delete(cfg.Tiers, name)
			}
		}
		if !md.IsDefined("routes") {
			cfg.Routes[0].Tiers = slices.Sorted(maps.Keys(cfg.Tiers))
		}
	}
	return cfg, nil
}

// applyEnv lets the environment override the file, for containers and
// secrets that should not sit in a file.
func applyEnv(cfg *Config, getenv func(string) string) {
	if v := getenv("KEYGATE_LISTEN"); v != "" {
		cfg.Listen = v
	}
	if v := getenv("KEYGATE_DB_PATH"); v != "" {
		cfg.DBPath = v
	}
	if v := getenv("KEYGATE_JWT_SECRET"); v != "" {
		cfg.JWT.Secret = v
	}
}

// lineOf finds where key is written, for error messages; TOML's decoder
// keeps no position for keys it did not decode. It returns "line N: " or "".
func lineOf(data []byte, key toml.Key) string {
	if len(key) == 0 {
		return ""
	}
	last := regexp.QuoteMeta(key[len(key)-1])
	re := regexp.MustCompile(`^\s*(\[+\s*)?([\w.-]*\.)?"?` + last + `"?\s*(=|\]|\.)`)
	for i, line := range bytes.Split(data, []byte("\n")) {
		if re.Match(line) {
			return fmt.Sprintf("line %d: ", i+1)
		}
	}
	return ""
}

var tierName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// validate checks every setting and names the first bad one.
func (c *Config) validate() error {
	switch {
	case c.Listen == "":
		return errors.New("listen: must not be empty")
	case c.DBPath == "":
		return errors.New("db_path: must not be empty")
	case c.MaxBodyBytes < 1024:
		return fmt.Errorf("max_body_bytes: %d is too small (minimum 1024)", c.MaxBodyBytes)
	case c.JWT.Algorithm != auth.HS256 && c.JWT.Algorithm != auth.EdDSA:
		return fmt.Errorf("jwt.algorithm: %q is not supported (use \"HS256\" or \"EdDSA\")", c.JWT.Algorithm)
	case c.JWT.Secret != "" && len(c.JWT.Secret) < 32:
		return fmt.Errorf("jwt.secret: %d bytes is too short (at least 32; or leave it empty to have one generated)", len(c.JWT.Secret))
	case c.MFA.Required != "none" && c.MFA.Required != "admins" && c.MFA.Required != "all":
		return fmt.Errorf("mfa.required: %q must be \"none\", \"admins\" or \"all\"", c.MFA.Required)
	case c.JWT.Issuer == "":
		return errors.New("jwt.issuer: must not be empty")
	case c.JWT.AccessTTL.Duration < time.Minute:
		return fmt.Errorf("jwt.access_ttl: %s is too short (minimum 1m)", c.JWT.AccessTTL)
	case c.JWT.RefreshTTL.Duration < c.JWT.AccessTTL.Duration:
		return fmt.Errorf("jwt.refresh_ttl: %s is shorter than jwt.access_ttl", c.JWT.RefreshTTL)
	case c.Passwords.BcryptCost < 4 || c.Passwords.BcryptCost > 31:
		return fmt.Errorf("passwords.bcrypt_cost: %d is out of range (4 to 31; 12 recommended)", c.Passwords.BcryptCost)
	case auth.ValidateKeyPrefix(c.Keys.Prefix) != nil:
		return fmt.Errorf("keys.prefix: %q must be 1 to 16 letters, digits or underscores", c.Keys.Prefix)
	case c.Keys.RotationGrace.Duration < 0:
		return fmt.Errorf("keys.rotation_grace: %s is negative", c.Keys.RotationGrace)
	case c.Keys.MaxPerUser < 1:
		return fmt.Errorf("keys.max_per_user: %d must be at least 1", c.Keys.MaxPerUser)
	case c.Sessions.MaxAge.Duration < c.JWT.AccessTTL.Duration:
		return fmt.Errorf("sessions.max_age: %s is shorter than jwt.access_ttl", c.Sessions.MaxAge)
	case c.Sessions.MaxPerUser < 1:
		return fmt.Errorf("sessions.max_per_user: %d must be at least 1", c.Sessions.MaxPerUser)
	case c.Throttle.LoginPerMinute < 1:
		return fmt.Errorf("throttle.login_per_minute: %d must be at least 1", c.Throttle.LoginPerMinute)
	case c.Throttle.SignupPerHour < 1:
		return fmt.Errorf("throttle.signup_per_hour: %d must be at least 1", c.Throttle.SignupPerHour)
	case c.Throttle.FailedLoginsBeforeBackoff < 1:
		return fmt.Errorf("throttle.failed_logins_before_backoff: %d must be at least 1", c.Throttle.FailedLoginsBeforeBackoff)
	case c.Audit.MaxEvents < 1:
		return fmt.Errorf("audit.max_events: %d must be at least 1", c.Audit.MaxEvents)
	case c.Audit.MaxAge.Duration < 0:
		return fmt.Errorf("audit.max_age: %s is negative (0 keeps events of any age)", c.Audit.MaxAge)
	}
	if _, err := c.trustedProxies(); err != nil {
		return err
	}
	if err := c.validateMetrics(); err != nil {
		return err
	}
	if err := c.validateTiers(); err != nil {
		return err
	}
	return c.validateRoutes()
}

func (c *Config) validateMetrics() error {
	addr := c.Metrics.Listen
	if addr == "" {
		return nil
	}
	if !c.Metrics.Enabled {
		return errors.New("metrics.listen: set without metrics.enabled = true")
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("metrics.listen: %q is not a host:port address (such as \"127.0.0.1:9100\")", addr)
	}
	if addr == c.Listen {
		return fmt.Errorf("metrics.listen: %q is also listen; leave it empty to serve the metrics there", addr)
	}
	return nil
}

func (c *Config) validateTiers() error {
	if _, ok := c.Tiers["basic"]; !ok {
		return errors.New("tiers.basic: is required (new users and keys get it)")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Tiers)) {
		t := c.Tiers[name]
		switch {
		case !tierName.MatchString(name):
			return fmt.Errorf("tiers.%s: a tier name is 1 to 32 of a-z, 0-9, _ and -", name)
		case t.PerMinute < 1:
			return fmt.Errorf("tiers.%s.per_minute: %d must be at least 1", name, t.PerMinute)
		case t.PerDay < 1:
			return fmt.Errorf("tiers.%s.per_day: %d must be at least 1", name, t.PerDay)
		}
	}
	return nil
}

func validUpstream(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

// trustedProxies parses trusted_proxies: addresses or CIDR prefixes.
func (c *Config) trustedProxies() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for i, v := range c.TrustedProxies {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			addr, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return nil, fmt.Errorf("trusted_proxies[%d]: %q is not an IP address or CIDR prefix", i, v)
			}
			p = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

var routeMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

func (c *Config) validateRoutes() error {
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		switch {
		case !routeMethods[r.Method]:
			return fmt.Errorf("%s.method: %q is not an HTTP method in upper case", key, r.Method)
		case !strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, " \t{}"):
			return fmt.Errorf("%s.path: %q must start with / and hold no spaces or wildcards", key, r.Path)
		case len(r.Tiers) == 0:
			return fmt.Errorf("%s.tiers: must name at least one tier", key)
		case r.Upstream != "" && !validUpstream(r.Upstream):
			return fmt.Errorf("%s.upstream: %q must be an http:// or https:// URL with a host", key, r.Upstream)
		case r.UpstreamTimeout.Duration < 0:
			return fmt.Errorf("%s.upstream_timeout: %s is negative", key, r.UpstreamTimeout)
		case r.UpstreamTimeout.Duration != 0 && r.Upstream == "":
			return fmt.Errorf("%s.upstream_timeout: set without an upstream", key)
		}
		for _, t := range r.Tiers {
			if _, ok := c.Tiers[t]; !ok {
				return fmt.Errorf("%s.tiers: unknown tier %q", key, t)
			}
		}
	}
	return nil
}
