package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pgMigrations are the versioned schema changes of a PostgreSQL store, applied in
// order at open: migration N is pgMigrations[N-1]. Append only; never edit one that
// shipped.
var pgMigrations = []string{
	// 1: the buckets, their keys in byte-wise order (bytea compares like bbolt's
	// keys), and their sequence counters.
	`CREATE TABLE kv (
		bucket text NOT NULL,
		key bytea NOT NULL,
		value bytea NOT NULL,
		PRIMARY KEY (bucket, key)
	);
	CREATE TABLE kv_seq (
		bucket text PRIMARY KEY,
		value bigint NOT NULL
	)`,
}

// PostgresSchemaVersion is the newest PostgreSQL schema migration this build knows.
var PostgresSchemaVersion = len(pgMigrations)

// Migration says what MigratePostgres did: the schema migration the database had
// (0 for an empty one) and the one it has now.
type Migration struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// IsPostgres reports whether a --store value names a PostgreSQL store.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// OpenLocation opens the store a --store value names: a postgres:// or postgresql://
// URL, or a bbolt file as bbolt:PATH or a plain path (PATH may be a state directory,
// meaning its state.db).
func OpenLocation(ctx context.Context, location string, opts Options) (*DB, error) {
	switch {
	case IsPostgres(location):
		return OpenPostgres(ctx, location, opts)
	case strings.Contains(location, "://"):
		return nil, fmt.Errorf("store %s: not a store clankerd knows; use postgres://… (or postgresql://…) or bbolt:PATH", RedactDSN(location))
	case BoltPath(location) == "":
		return nil, errors.New("store bbolt: names no file; use bbolt:PATH")
	}
	return Open(BoltPath(location), opts)
}

// BoltPath is the file a bbolt location names: PATH of bbolt:PATH, or its state.db
// when PATH is a directory.
func BoltPath(location string) string {
	path := strings.TrimPrefix(location, "bbolt:")
	if isDir(path) {
		return filepath.Join(path, FileName)
	}
	return path
}

// OpenPostgres opens the PostgreSQL store at dsn, applying its schema migrations
// first. Writers from every process sharing the database serialise on one advisory
// lock; the rest is as with Open. DB.Path is the DSN without its password.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*DB, error) {
	pool, where, err := connectPostgres(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := migratePool(ctx, pool, where); err != nil {
		pool.Close()
		return nil, err
	}
	return newDB(ctx, &pgEngine{pool: pool, where: where}, where, opts)
}

// MigratePostgres applies the schema migrations the PostgreSQL store at dsn lacks.
// It refuses a database migrated by a newer build.
func MigratePostgres(ctx context.Context, dsn string) (Migration, error) {
	pool, where, err := connectPostgres(ctx, dsn)
	if err != nil {
		return Migration{}, err
	}
	defer pool.Close()
	return migratePool(ctx, pool, where)
}

func connectPostgres(ctx context.Context, dsn string) (*pgxpool.Pool, string, error) {
	where := RedactDSN(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors carry the DSN with its password redacted.
		return nil, where, fmt.Errorf("parsing the PostgreSQL DSN %s: %w; use postgres://USER:PASSWORD@HOST:PORT/DATABASE", where, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, where, fmt.Errorf("connecting to the PostgreSQL store %s: %w", where, err)
	}
	return pool, where, nil
}

// migratePool applies the missing migrations in one transaction, holding the writer
// lock so that replicas starting together migrate once.
func migratePool(ctx context.Context, pool *pgxpool.Pool, where string) (Migration, error) {
	var m Migration
	tx, err := pool.Begin(ctx)
	if err != nil {
		return m, fmt.Errorf("connecting to the PostgreSQL store %s: %w; check that the server is up and the DSN (--store, CLANKERD_STORE)", where, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", pgWriterLock); err != nil {
		return m, fmt.Errorf("locking the PostgreSQL store %s for its migrations: %w", where, err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return m, fmt.Errorf("creating schema_migrations in the PostgreSQL store %s: %w (the user needs CREATE on the database)", where, err)
	}
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&m.From); err != nil {
		return m, fmt.Errorf("reading the schema version of the PostgreSQL store %s: %w", where, err)
	}
	if m.From > len(pgMigrations) {
		return m, fmt.Errorf("the PostgreSQL store %s has schema migration %d, newer than this build understands (%d); upgrade clankerd", where, m.From, len(pgMigrations))
	}
	for v := m.From + 1; v <= len(pgMigrations); v++ {
		if _, err := tx.Exec(ctx, pgMigrations[v-1]); err != nil {
			return m, fmt.Errorf("applying schema migration %d to the PostgreSQL store %s: %w", v, where, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v); err != nil {
			return m, fmt.Errorf("recording schema migration %d in the PostgreSQL store %s: %w", v, where, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return m, fmt.Errorf("committing the schema migrations of the PostgreSQL store %s: %w", where, err)
	}
	m.To = len(pgMigrations)
	return m, nil
}

// dsnPassword finds the password of a key=value DSN.
var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// RedactDSN is a PostgreSQL DSN fit for messages and logs: its password (in the
// user info, a password= parameter or a key=value pair) replaced by "xxxxx".
func RedactDSN(dsn string) string {
	scheme, _, isURL := strings.Cut(dsn, "://")
	if !isURL {
		return dsnPassword.ReplaceAllString(dsn, "${1}xxxxx")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return scheme + "://(a DSN that does not parse)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
