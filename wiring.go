package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/storage"
	"github.com/keygate/keygate/web"
)

// newServer builds the server's dependencies from the configuration.
func newServer(ctx context.Context, cfg Config, db *storage.DB, log *slog.Logger, stderr io.Writer) (*server.Server, error) {
	tokens, err := newTokens(ctx, cfg, db)
	if err != nil {
		return nil, err
	}
	passwords, err := newHasher(cfg)
	if err != nil {
		return nil, err
	}
	proxies, err := cfg.trustedProxies()
	if err != nil {
		return nil, err
	}
	var accessLog *slog.Logger
	if cfg.AccessLog {
		accessLog = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	return server.New(server.Config{
		AccessLog:                 accessLog,
		Metrics:                   cfg.Metrics.Enabled && cfg.Metrics.Listen == "",
		AllowSignup:               cfg.AllowSignup,
		MaxBodyBytes:              cfg.MaxBodyBytes,
		KeyPrefix:                 cfg.Keys.Prefix,
		RotationGrace:             cfg.Keys.RotationGrace.Duration,
		MaxKeysPerUser:            cfg.Keys.MaxPerUser,
		SessionMaxAge:             cfg.Sessions.MaxAge.Duration,
		MaxSessionsPerUser:        cfg.Sessions.MaxPerUser,
		Tiers:                     serverTiers(cfg),
		Routes:                    serverRoutes(cfg),
		TrustedProxies:            proxies,
		LoginPerMinute:            cfg.Throttle.LoginPerMinute,
		SignupPerHour:             cfg.Throttle.SignupPerHour,
		FailedLoginsBeforeBackoff: cfg.Throttle.FailedLoginsBeforeBackoff,
		AuditMaxEvents:            cfg.Audit.MaxEvents,
		MFARequired:               cfg.MFA.Required,
		AuditMaxAge:               cfg.Audit.MaxAge.Duration,
		Assets:                    web.FS(),
		Logger:                    log,
	}, db, tokens, passwords)
}

// newHasher is the password hasher of the configuration, refusing the
// passwords of [passwords] breached_list if one is set.
func newHasher(cfg Config) (*auth.Hasher, error) {
	h, err := auth.NewHasher(cfg.Passwords.BcryptCost)
	if err != nil || cfg.Passwords.BreachedList == "" {
		return h, err
	}
	f, err := os.Open(cfg.Passwords.BreachedList)
	if err != nil {
		return nil, fmt.Errorf("passwords.breached_list: %w", err)
	}
	defer f.Close()
	list, err := auth.ReadBreachedList(f)
	if err != nil {
		return nil, fmt.Errorf("passwords.breached_list: %s: %w", cfg.Passwords.BreachedList, err)
	}
	return h.WithBreachedList(list), nil
}

func serverTiers(cfg Config) map[string]limiter.Limits {
	tiers := make(map[string]limiter.Limits, len(cfg.Tiers))
	for name, t := range cfg.Tiers {
		tiers[name] = limiter.Limits{PerMinute: t.PerMinute, PerDay: t.PerDay}
	}
	return tiers
}

func serverRoutes(cfg Config) []server.Route {
	routes := make([]server.Route, len(cfg.Routes))
	for i, r := range cfg.Routes {
		routes[i] = server.Route{Method: r.Method, Path: r.Path, Tiers: r.Tiers,
			Upstream: r.Upstream, UpstreamTimeout: r.UpstreamTimeout.Duration}
	}
	return routes
}

// newTokens signs with the configured HS256 secret, one made on first
// start and kept in the database, or the database's Ed25519 keys.
func newTokens(ctx context.Context, cfg Config, db *storage.DB) (*auth.Tokens, error) {
	opts := auth.TokenOptions{
		Algorithm: cfg.JWT.Algorithm, Issuer: cfg.JWT.Issuer, Audience: cfg.JWT.Audience,
		AccessTTL: cfg.JWT.AccessTTL.Duration, RefreshTTL: cfg.JWT.RefreshTTL.Duration,
	}
	var err error
	if cfg.JWT.Algorithm == auth.EdDSA {
		opts.Keys, err = signingKeys(ctx, cfg, db)
	} else {
		opts.Secret, err = jwtSecret(ctx, cfg, db)
	}
	if err != nil {
		return nil, err
	}
	return auth.NewTokens(opts)
}

// hs256SecretName is where the generated HS256 secret is kept.
const hs256SecretName = "jwt.hs256"

// jwtSecret is the configured secret, or one made on first start and kept
// in the database so tokens stay valid across restarts.
func jwtSecret(ctx context.Context, cfg Config, db *storage.DB) ([]byte, error) {
	if cfg.JWT.Secret != "" {
		return []byte(cfg.JWT.Secret), nil
	}
	return db.Secret(ctx, hs256SecretName, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
}

// signingKeys are the Ed25519 keys in the database, made on first start:
// the current one signs; retired ones verify, and are published, until
// every token they signed has expired.
func signingKeys(ctx context.Context, cfg Config, db *storage.DB) ([]auth.SigningKey, error) {
	stored, err := db.EnsureSigningKey(ctx, func() (storage.SigningKey, error) { return newStoredKey(time.Now()) })
	if err != nil {
		return nil, err
	}
	cutoff := time.Now().Add(-tokenLifetime(cfg))
	var keys []auth.SigningKey
	for _, sk := range stored {
		if !sk.RetiredAt.IsZero() && sk.RetiredAt.Before(cutoff) {
			continue
		}
		k, err := auth.SigningKeyFromSeed(sk.ID, sk.Seed)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", sk.ID, err)
		}
		if !sk.RetiredAt.IsZero() {
			k.Private = nil // retired: verify only
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// tokenLifetime is how long a token can outlive the key that signed it.
func tokenLifetime(cfg Config) time.Duration {
	return max(cfg.JWT.AccessTTL.Duration, cfg.JWT.RefreshTTL.Duration)
}

func newStoredKey(now time.Time) (storage.SigningKey, error) {
	k, err := auth.NewSigningKey(nil)
	if err != nil {
		return storage.SigningKey{}, err
	}
	return storage.SigningKey{ID: k.ID, Seed: k.Seed(), CreatedAt: now.UTC()}, nil
}

// metricsServer serves the metrics on an address of their own, for
// [metrics] listen; a nil *metricsServer serves nothing.
type metricsServer struct {
	hs     *http.Server
	addr   net.Addr // where it listens
	served chan error
}

// listenMetrics starts serving h at GET /metrics on addr, until shutdown;
// with an empty addr it serves nothing and returns nil.
func listenMetrics(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (*metricsServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	m := &metricsServer{addr: ln.Addr(), served: make(chan error, 1), hs: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}}
	go func() { m.served <- m.hs.Serve(ln) }()
	log.Info("metrics serving", "addr", m.addr.String())
	return m, nil
}

// shutdown stops serving the metrics, letting a scrape in progress finish
// until ctx is done. It returns nil after a clean shutdown.
func (m *metricsServer) shutdown(ctx context.Context) error {
	if m == nil {
		return nil
	}
	err := m.hs.Shutdown(ctx)
	if served := <-m.served; !errors.Is(served, http.ErrServerClosed) {
		err = errors.Join(err, served)
	}
	return err
}
