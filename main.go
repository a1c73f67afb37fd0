// Command keygate gives any HTTP API user accounts, JWT sessions, API keys
// and per-key rate limits, from one binary whose only state is one bbolt
// file.
//
// Usage:
//
//	keygate [serve] [-config FILE]
//	keygate user create [-config FILE] -email E [-admin] [-tiers basic,pro] < password
//	keygate jwt rotate [-config FILE] [-drop-old]
//	keygate backup [-config FILE] -out FILE
//	keygate check [-config FILE]
//	keygate version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keygate/keygate/storage"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "keygate:", err)
		os.Exit(1)
	}
}

// run is keygate's whole command line; tests call it as main would.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stderr, getenv, nil)
	case "version":
		fmt.Fprintln(stdout, "keygate", version)
		return nil
	case "user":
		if len(args) == 0 || args[0] != "create" {
			return errors.New("usage: keygate user create [-config FILE] -email E [-admin] [-tiers basic,pro]")
		}
		return createUser(ctx, args[1:], stdin, stdout, getenv)
	case "jwt":
		if len(args) == 0 || args[0] != "rotate" {
			return errors.New("usage: keygate jwt rotate [-config FILE] [-drop-old]")
		}
		return rotateJWTKey(ctx, args[1:], stdout, getenv)
	case "backup":
		return backupDB(ctx, args, stdout, getenv)
	case "check":
		return checkDB(args, stdout, getenv)
	}
	return fmt.Errorf("unknown command %q (want serve, user create, jwt rotate, backup, check or version)", cmd)
}

// serve runs the server until ctx is done. ready, if not nil, receives the
// listening address once requests can be served.
func serve(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string, ready chan<- string) error {
	fs := newFlags("serve", stderr)
	cfg, err := fs.load(args, getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	warnReadableSecret(*fs.config, cfg, getenv, log)
	if cfg.Passwords.BcryptCost < 10 {
		log.Warn("passwords.bcrypt_cost below 10 makes stolen password hashes cheap to guess; use it for tests only",
			"bcrypt_cost", cfg.Passwords.BcryptCost)
	}

	db, err := openDB(cfg, "stop it first")
	if err != nil {
		return err
	}
	defer db.Close()
	if err := keepPrivate(cfg.DBPath, log); err != nil {
		return err
	}
	srv, err := newServer(ctx, cfg, db, log, stderr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	metrics, err := listenMetrics(ctx, cfg.Metrics.Listen, srv.MetricsHandler(), log)
	if err != nil {
		_ = ln.Close() // nothing was served on it; the metrics error is the one to report
		return err
	}
	log.Info("keygate serving", "addr", ln.Addr().String(), "db", cfg.DBPath, "version", version)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnSignal(ctx, hup, *fs.config, getenv, cfg, srv, log)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	err = srv.Serve(ctx, ln)
	// The metrics stay up through the drain and the last flush, then stop.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	err = errors.Join(err, metrics.shutdown(stopCtx))
	cancel()
	log.Info("keygate stopped")
	return err
}

// openDB opens the database, failing within a second, with advice, when
// another process has it.
func openDB(cfg Config, advice string) (*storage.DB, error) {
	db, err := storage.Open(cfg.DBPath, storage.Options{Timeout: time.Second})
	if errors.Is(err, storage.ErrLocked) {
		return nil, fmt.Errorf("%s is in use by another keygate process: %s", cfg.DBPath, advice)
	}
	return db, err
}

// keepPrivate makes sure only keygate's user can read the database, which
// holds password hashes and the token signing secret: a file restored or
// copied with a looser mode is set back to 0600, and the log says so.
func keepPrivate(path string, log *slog.Logger) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("%s is readable by others (mode %04o) and could not be made private: %w", path, mode, err)
		}
		log.Warn("database was readable by others; its mode is now 0600", "path", path, "was", fmt.Sprintf("%04o", mode))
	}
	return nil
}

// warnReadableSecret says so when the configuration file holds jwt.secret
// and others may read it: the secret signs tokens for any user. It does
// not refuse to start, so an upgrade never takes a running site down.
func warnReadableSecret(path string, cfg Config, getenv func(string) string, log *slog.Logger) {
	if cfg.JWT.Secret == "" || getenv("KEYGATE_JWT_SECRET") != "" {
		return
	}
	if path == "" {
		path = "config.toml"
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm()&0o077 == 0 {
		return
	}
	log.Warn("the configuration file holds jwt.secret and others can read it: chmod 600 it, or set KEYGATE_JWT_SECRET instead",
		"path", path, "mode", fmt.Sprintf("%04o", info.Mode().Perm()))
}

// flags is a command's flag set with the -config flag every command has.
type flags struct {
	*flag.FlagSet
	config *string
}

func newFlags(name string, out io.Writer) flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return flags{fs, fs.String("config", "", "configuration file (default: config.toml here, if present)")}
}

// load parses args and loads the configuration they name.
func (f flags) load(args []string, getenv func(string) string) (Config, error) {
	if err := f.Parse(args); err != nil {
		return Config{}, err
	}
	return loadConfig(*f.config, getenv)
}
