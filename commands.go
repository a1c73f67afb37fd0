package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/storage"
)

// createUser is "keygate user create": the only way to make an admin. The
// password is read from the first line of stdin, so it never appears in
// the process list or the shell history.
func createUser(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, getenv func(string) string) error {
	fs := newFlags("user create", stdout)
	email := fs.String("email", "", "email address of the new user (required)")
	admin := fs.Bool("admin", false, "make the user an administrator")
	tiers := fs.String("tiers", "basic", "comma-separated tiers the user may issue keys in")
	cfg, err := fs.load(args, getenv)
	if err != nil {
		return err
	}
	addr, err := auth.NormalizeEmail(*email)
	if err != nil {
		return fmt.Errorf("-email %q: not a valid email address", *email)
	}
	granted, err := parseTiers(*tiers, cfg)
	if err != nil {
		return err
	}
	password, err := readPassword(stdin)
	if err != nil {
		return err
	}
	if err := checkNewPassword(password, addr, cfg); err != nil {
		return err
	}
	hasher, err := newHasher(cfg)
	if err != nil {
		return err
	}
	hash, err := hasher.Hash(password)
	if err != nil {
		return fmt.Errorf("password: %w", err)
	}
	db, err := openDB(cfg, "stop the server, then create the user")
	if err != nil {
		return err
	}
	defer db.Close()
	id, err := auth.NewID("usr_", nil)
	if err != nil {
		return err
	}
	role := "user"
	if *admin {
		role = "admin"
	}
	u := storage.User{ID: id, Email: addr, PasswordHash: hash, Role: role, Tiers: granted, CreatedAt: time.Now().UTC()}
	if err := db.CreateUser(ctx, u); errors.Is(err, storage.ErrConflict) {
		return fmt.Errorf("a user with email %s already exists", addr)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s %s (%s)\n", role, addr, id)
	return nil
}

// checkNewPassword applies the server's rules for a new password: at
// least 8 characters, and none of the service's words or the email's parts.
func checkNewPassword(password, email string, cfg Config) error {
	if err := auth.ValidateNewPassword(password); err != nil {
		return fmt.Errorf("password: %w", err)
	}
	var cw *auth.ContextWordError
	if err := auth.CheckContextWords(password, email, "keygate", cfg.Keys.Prefix, cfg.JWT.Issuer); errors.As(err, &cw) {
		return fmt.Errorf("password: must not contain %q (a word of this service or of the email address)", cw.Word)
	}
	return nil
}

func parseTiers(list string, cfg Config) ([]string, error) {
	var out []string
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if _, ok := cfg.Tiers[t]; !ok {
			return nil, fmt.Errorf("-tiers: unknown tier %q", t)
		}
		out = append(out, t)
	}
	return out, nil
}

// readPassword reads one line, without its line ending.
func readPassword(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input (pipe it in: echo \"$PASSWORD\" | keygate user create ...)")
	}
	return line, nil
}

// rotateJWTKey is "keygate jwt rotate": under HS256 see rotateHS256Secret;
// under EdDSA, a new Ed25519 signing key. The old
// one stays in the database, published and verifying, until every token
// it signed has expired; keys past that are deleted here. With -drop-old,
// for a key that may have leaked, every old key goes at once, and every
// token they signed stops working.
func rotateJWTKey(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := newFlags("jwt rotate", stdout)
	dropOld := fs.Bool("drop-old", false, "delete every older key now: their tokens stop working (for a leaked key)")
	cfg, err := fs.load(args, getenv)
	if err != nil {
		return err
	}
	if cfg.JWT.Algorithm != auth.EdDSA {
		return rotateHS256Secret(ctx, cfg, *dropOld, stdout)
	}
	db, err := openDB(cfg, "stop the server, rotate, then start it again")
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now()
	k, err := newStoredKey(now)
	if err != nil {
		return err
	}
	if err := db.AddSigningKey(ctx, k); err != nil {
		return err
	}
	cutoff := now.Add(-tokenLifetime(cfg))
	if *dropOld {
		cutoff = now.Add(time.Second) // every key retired by this rotation, or before
	}
	dropped, err := db.DeleteSigningKeys(ctx, cutoff)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s; %d expired key(s) deleted\n", k.ID, dropped)
	return nil
}

// rotateHS256Secret replaces the HS256 secret keygate made and keeps in
// the database. One secret both signs and verifies, so there is no grace:
// every token stops working and every session ends, which is why it asks
// for -drop-old. A secret set in the configuration is changed there.
func rotateHS256Secret(ctx context.Context, cfg Config, dropOld bool, stdout io.Writer) error {
	if cfg.JWT.Secret != "" {
		return errors.New("jwt rotate: jwt.secret is set in the configuration (or KEYGATE_JWT_SECRET); change it there")
	}
	if !dropOld {
		return errors.New("jwt rotate: with HS256 a new secret ends every session and every token at once; " +
			"run it again with -drop-old to do that (or use jwt.algorithm = \"EdDSA\" for rotation with overlap)")
	}
	db, err := openDB(cfg, "stop the server, rotate, then start it again")
	if err != nil {
		return err
	}
	defer db.Close()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	ended, err := db.ReplaceSecret(ctx, hs256SecretName, secret, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new HS256 secret; %d session(s) ended, every token signed before is refused\n", ended)
	return nil
}

// backupDB is "keygate backup -out FILE": a consistent copy of the
// database, made with the server stopped (while it runs, an admin gets
// the same from GET /v1/admin/backup).
func backupDB(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := newFlags("backup", stdout)
	out := fs.String("out", "", "file to write the copy to (must not exist)")
	cfg, err := fs.load(args, getenv)
	if err != nil {
		return err
	}
	if *out == "" {
		return errors.New("backup: -out FILE is required")
	}
	db, err := openDB(cfg, "while it runs, an admin can download a backup from GET /v1/admin/backup")
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Snapshot(ctx, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *out, n)
	return nil
}

// checkDB is "keygate check": bbolt's consistency check over the
// database, with the server stopped. It fails on any damage.
func checkDB(args []string, stdout io.Writer, getenv func(string) string) error {
	cfg, err := newFlags("check", stdout).load(args, getenv)
	if err != nil {
		return err
	}
	err = storage.CheckFile(cfg.DBPath, storage.Options{Timeout: time.Second})
	if errors.Is(err, storage.ErrLocked) {
		return fmt.Errorf("%s is in use by another keygate process: stop it first", cfg.DBPath)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", cfg.DBPath)
	return nil
}
