package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/internal/pace"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/storage"
)

// Config is what the server needs besides its dependencies. Every field
// documents its zero value; the zero Config serves with no tiers and no
// protected routes, which New refuses.
type Config struct {
	AllowSignup    bool          // whether POST /v1/auth/register is open
	MaxBodyBytes   int64         // request body cap; zero: 64 KiB
	KeyPrefix      string        // start of every raw API key; zero: "kg_live_"
	RotationGrace  time.Duration // how long a rotated key keeps working when the request names no grace; zero: not at all
	MaxKeysPerUser int           // active keys per user; zero: 100

	// SessionMaxAge is how long a session may last from its login, however
	// often it is refreshed; zero: 30 days.
	SessionMaxAge time.Duration
	// MaxSessionsPerUser is how many live sessions a user may hold; a new
	// login past it ends the least recently used one. Zero: 100.
	MaxSessionsPerUser int

	// Tiers are the limits of each tier by name; "basic" must be one.
	Tiers map[string]limiter.Limits
	// Routes are the protected routes, served by the built-in echo.
	Routes []Route

	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// working out a client's address; nil: none, the peer is the client.
	TrustedProxies []netip.Prefix
	// LoginPerMinute and SignupPerHour limit attempts per client address;
	// zero: 20 each.
	LoginPerMinute int
	SignupPerHour  int
	// FailedLoginsBeforeBackoff is how many failed logins one (address,
	// email) pair gets before each further one doubles its wait, up to 15
	// minutes; zero: 5.
	FailedLoginsBeforeBackoff int

	// MFARequired is who must turn two-factor authentication on before
	// their sessions may do more than that: MFANone, MFAAdmins or MFAAll.
	// Zero: MFANone.
	MFARequired string

	// AuditMaxEvents and AuditMaxAge bound the audit log: older events are
	// pruned. Zero: 100000 events; zero age: no age limit.
	AuditMaxEvents int
	AuditMaxAge    time.Duration

	// AccessLog, if not nil, gets one line per request (method, path,
	// status, bytes, duration, request id); nil: no access log.
	AccessLog *slog.Logger

	// Metrics serves MetricsHandler at GET /metrics on this handler;
	// false: no such route (404). The metrics are kept either way.
	Metrics bool

	Assets fs.FS        // the dashboard: index.html at GET /, the rest at /assets/; nil: 404s there
	Logger *slog.Logger // nil: logs are discarded

	Now  func() time.Time // nil: time.Now
	Rand io.Reader        // source of keys and ids; nil: crypto/rand.Reader

	FlushInterval   time.Duration // how often counters and last-used times are written; zero: 1s
	IdleTTL         time.Duration // keys and limiters unused this long leave memory (up to a minute later); zero: 10m
	ShutdownTimeout time.Duration // how long Serve waits for requests to drain; zero: 10s
}

// Route is one protected route: a method and path (a net/http pattern
// without wildcards: "/v1/chat" matches exactly, "/v1/models/" the
// subtree) and the tiers it admits, served by the built-in echo or
// proxied to an upstream.
type Route struct {
	Method string
	Path   string
	Tiers  []string

	// Upstream is the base URL requests are proxied to, such as
	// "http://127.0.0.1:9000"; empty: the built-in echo answers.
	Upstream string
	// UpstreamTimeout is how long the upstream may take to send its
	// response headers before the client gets a 504; zero: 60s. A body
	// may stream for longer.
	UpstreamTimeout time.Duration
}

// Server is keygate's HTTP API. It is an http.Handler, safe for concurrent
// use; Serve runs it on a listener together with the background flusher.
type Server struct {
	cfg       Config
	db        *storage.DB
	tokens    *auth.Tokens
	passwords *auth.Hasher
	limits    *limiter.Limiter
	keys      *keyCache
	known     *keyFilter // the hashes of every stored key, for refusing others without the store
	sessions  *sessionSet
	table     atomic.Pointer[table] // the tiers and routes now; replaced by Reload
	dash      *dashboard
	metrics   *metrics

	loginLimit  *limiter.Throttle // login attempts per client address
	signupLimit *limiter.Throttle // sign-ups per client address
	loginFails  *limiter.Backoff  // failed logins per (client address, email)

	log        *slog.Logger
	requestIDs *requestIDs
	now        func() time.Time
	rand       io.Reader

	flushMu   sync.Mutex    // guards pending, lastEvict and lastPrune, and serialises Flush
	pending   storage.Batch // what the last failed flush could not write
	pace      func() pacer  // newPacer; tests count what a flush paces
	lastEvict time.Time
	lastPrune time.Time
}

// New builds a Server over its dependencies. It returns an error for a
// configuration it cannot serve, such as a route naming an unknown tier.
func New(cfg Config, db *storage.DB, tokens *auth.Tokens, passwords *auth.Hasher) (*Server, error) {
	cfg = withDefaults(cfg)
	if err := validMFAPolicy(cfg.MFARequired); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		db:         db,
		tokens:     tokens,
		passwords:  passwords,
		keys:       newKeyCache(),
		known:      newKeyFilter(),
		log:        cfg.Logger,
		now:        cfg.Now,
		rand:       cfg.Rand,
		requestIDs: newRequestIDs(),
		metrics:    newMetrics(),
	}
	s.pace = func() pacer { return s.newPacer() }
	s.limits = limiter.New(limiter.Options{IdleTTL: cfg.IdleTTL, Load: s.loadUsage})
	s.loginLimit = limiter.NewThrottle(limiter.ThrottleOptions{PerPeriod: cfg.LoginPerMinute, Period: time.Minute})
	s.signupLimit = limiter.NewThrottle(limiter.ThrottleOptions{PerPeriod: cfg.SignupPerHour, Period: time.Hour})
	s.loginFails = limiter.NewBackoff(limiter.BackoffOptions{Free: cfg.FailedLoginsBeforeBackoff})
	live, err := db.LiveSessions(context.Background(), s.now())
	if err != nil {
		return nil, fmt.Errorf("server: loading sessions: %w", err)
	}
	s.sessions = newSessionSet(live)
	if err := auth.ValidateKeyPrefix(cfg.KeyPrefix); err != nil {
		return nil, fmt.Errorf("server: key prefix: %w", err)
	}
	if s.dash, err = newDashboard(cfg.Assets); err != nil {
		return nil, err
	}
	if err := s.Reload(cfg.Tiers, cfg.Routes); err != nil {
		return nil, err
	}
	go s.loadKnownKeys()
	return s, nil
}

func withDefaults(cfg Config) Config {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "kg_live_"
	}
	if cfg.MaxKeysPerUser <= 0 {
		cfg.MaxKeysPerUser = 100
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = 30 * 24 * time.Hour
	}
	if cfg.MaxSessionsPerUser <= 0 {
		cfg.MaxSessionsPerUser = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = 10 * time.Minute
	}
	if cfg.LoginPerMinute <= 0 {
		cfg.LoginPerMinute = 20
	}
	if cfg.SignupPerHour <= 0 {
		cfg.SignupPerHour = 20
	}
	if cfg.FailedLoginsBeforeBackoff <= 0 {
		cfg.FailedLoginsBeforeBackoff = 5
	}
	if cfg.AuditMaxEvents <= 0 {
		cfg.AuditMaxEvents = 100000
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	return cfg
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.current().handler.ServeHTTP(w, r)
}

// Pace returns a func for one run of a long background job, such as a
// flush (storage.Batch.Pace), to call after each small unit of its work.
// While the server is answering requests it sleeps now and then, so that
// on one core requests are not held up behind the job (see
// internal/pace). Past half the flush interval it pauses less, so a run
// catches up, still a slice at a time.
func (s *Server) Pace() func() { return s.newPacer().Tick }

// newPacer is Pace's Pacer, whose Step the flusher also uses.
func (s *Server) newPacer() *pace.Pacer {
	return pace.New(s.metrics.served.Load, s.cfg.FlushInterval/2)
}

// pacer paces one flush: Tick after each small unit of its work (a
// record), Step after each large one (a shard walked); see internal/pace.
type pacer interface {
	Tick()
	Step()
}

// Serve serves on ln until ctx is done, then stops accepting, lets
// in-flight requests finish (up to ShutdownTimeout), writes every counter
// still in memory and returns. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	flushCtx, stopFlusher := context.WithCancel(context.WithoutCancel(ctx))
	flushed := make(chan error, 1)
	go func() { flushed <- s.Run(flushCtx) }()

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		err = hs.Shutdown(shutdownCtx)
		cancel()
		<-served
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	stopFlusher()
	return errors.Join(err, <-flushed)
}
