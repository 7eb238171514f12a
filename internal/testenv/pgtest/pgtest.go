// Package pgtest starts a real PostgreSQL server for tests, through the project's
// scripts/pg-testenv. Under CI=true a server that cannot start fails the tests;
// elsewhere the tests skip and say why.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/clankerd/clankerd/internal/testenv/envscript"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is a running test server.
type Env struct {
	Dir string
	// DSN reaches the server's "postgres" database as the superuser "clankerd".
	DSN    string
	script string
}

// ErrUnavailable: the server could not start here (no PostgreSQL binaries, ...).
var ErrUnavailable = errors.New("PostgreSQL test environment unavailable")

// Start initialises a cluster in dir and starts a server on a free loopback port.
// When running as root the server runs as "nobody", so dir and its parents must be
// reachable by that user (Main uses a fresh directory under the system temp dir).
func Start(dir string) (*Env, error) {
	script, err := scriptPath()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	cmd := exec.Command(script, "start", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s start: %w\n%s(install PostgreSQL with apt-get install -y postgresql)", ErrUnavailable, script, err, out.String())
	}
	dsn, err := os.ReadFile(filepath.Join(dir, "dsn"))
	if err != nil {
		_ = exec.Command(script, "stop", dir).Run()
		return nil, fmt.Errorf("%w: reading the DSN the script wrote: %w", ErrUnavailable, err)
	}
	return &Env{Dir: dir, DSN: strings.TrimSpace(string(dsn)), script: script}, nil
}

// Stop stops the server. It is safe to call twice.
func (e *Env) Stop() {
	_ = exec.Command(e.script, "stop", e.Dir).Run()
}

// NewDatabase creates an empty database for one test, dropped when the test ends, and
// returns its DSN. A database per test is much faster than a server per test.
func (e *Env) NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, e.DSN)
	if err != nil {
		t.Fatalf("connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() { // t.Context() is done by then
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, e.DSN)
		if err != nil {
			t.Errorf("dropping database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(e.DSN)
	if err != nil {
		t.Fatalf("parsing the test server's DSN: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Main is for TestMain: it starts a server into *env, runs the tests, and stops it.
// When the server cannot start, *env stays nil and reason says why (tests call
// Require); under CI=true that fails the run instead.
func Main(m *testing.M, env **Env, reason *string) int {
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	// As root the server runs as nobody, which must reach the directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e, err := Start(dir)
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "CI=true and the PostgreSQL test environment did not start:", err)
			return 1
		}
		*reason = err.Error()
		return m.Run()
	}
	*env = e
	defer e.Stop()
	return m.Run()
}

// Require skips the test (or fails it under CI=true) when there is no server.
func Require(t testing.TB, env *Env, reason string) {
	t.Helper()
	envscript.Require(t, env != nil, "PostgreSQL test environment", reason)
}

// scriptPath finds scripts/pg-testenv.
func scriptPath() (string, error) { return envscript.Find("pg-testenv") }
