package pgtest

import (
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

var (
	env    *Env
	reason string
)

func TestMain(m *testing.M) { os.Exit(Main(m, &env, &reason)) }

func TestSelectOne(t *testing.T) {
	Require(t, env, reason)
	tests := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"server", func(*testing.T) string { return env.DSN }},
		{"own database", func(t *testing.T) string { return env.NewDatabase(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := pgx.Connect(t.Context(), tt.dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(t.Context())
			var one int
			if err := conn.QueryRow(t.Context(), "select 1").Scan(&one); err != nil {
				t.Fatal(err)
			}
			if one != 1 {
				t.Fatalf("select 1 = %d", one)
			}
		})
	}
}

func TestNewDatabaseIsolated(t *testing.T) {
	Require(t, env, reason)
	a, b := env.NewDatabase(t), env.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share a DSN: %s", a)
	}
	ca, err := pgx.Connect(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(t.Context())
	if _, err := ca.Exec(t.Context(), "create table only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(t.Context())
	var n int
	if err := cb.QueryRow(t.Context(), "select count(*) from pg_tables where tablename = 'only_in_a'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a table created in one test database is visible in another")
	}
}
