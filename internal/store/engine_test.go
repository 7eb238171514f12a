package store

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clankerd/clankerd/internal/testenv/pgtest"
)

// The store's tests run on bbolt, and TestSuiteOnPostgres runs them again, in a child
// test process, on PostgreSQL: suitePGEnv carries the server's DSN to the child, whose
// openTest then opens a fresh PostgreSQL database per test.
const suitePGEnv = "CLANKERD_STORE_SUITE_PG_DSN"

// bboltOnlyTests edit the raw bbolt file, reopen it by path or test its file lock and
// backup: they have PostgreSQL counterparts in pg_test.go. TestPostgres* tests run in
// the parent only.
var bboltOnlyTests = []string{
	"TestAuditChain", "TestAuditLog", "TestLockedFailsFast", "TestOpenCloseReopen", "TestOpenCreatesEveryBucket",
	"TestNewerSchemaRefused", "TestMigrateFromSchema1", "TestCorruptRecordNamed", "TestBackup",
	"TestCheckpoint.*", "TestVerifyAuditFindsPlansWithoutTheirSteps", "TestPostgres.*", "TestSuiteOnPostgres",
}

var (
	pgEnv    *pgtest.Env
	pgReason string
)

func TestMain(m *testing.M) {
	if dsn := os.Getenv(suitePGEnv); dsn != "" {
		pgEnv = &pgtest.Env{DSN: dsn} // the parent's server
		os.Exit(m.Run())
	}
	os.Exit(pgtest.Main(m, &pgEnv, &pgReason))
}

// onPostgres reports whether this process runs the suite on PostgreSQL.
func onPostgres() bool { return os.Getenv(suitePGEnv) != "" }

// openSuiteDB opens an empty database on the engine this process tests.
func openSuiteDB(t *testing.T, opts Options) *DB {
	t.Helper()
	if onPostgres() {
		return openPG(t, pgEnv.NewDatabase(t), opts)
	}
	db, err := Open(filepath.Join(t.TempDir(), "state.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func openPG(t *testing.T, dsn string, opts Options) *DB {
	t.Helper()
	db, err := OpenPostgres(t.Context(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestSuiteOnPostgres runs every test of the package but bboltOnlyTests again with
// PostgreSQL as the engine.
func TestSuiteOnPostgres(t *testing.T) {
	pgtest.Require(t, pgEnv, pgReason)
	args := []string{"-test.run", "^Test", "-test.skip", "^(" + strings.Join(bboltOnlyTests, "|") + ")$", "-test.count=1", "-test.timeout=10m"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), suitePGEnv+"="+pgEnv.DSN)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("the store's tests on PostgreSQL:\n%s", out.String())
	if err != nil {
		t.Fatalf("the store's tests on PostgreSQL failed: %v", err)
	}
	if !strings.Contains(out.String(), "PASS") {
		t.Fatal("the run on PostgreSQL did not say PASS")
	}
}
