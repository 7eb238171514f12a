package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/checktest"
	"github.com/clankerd/clankerd/internal/testenv/pgtest"
	"github.com/clankerd/clankerd/tasks"
)

// newPGDatabase is an empty PostgreSQL database for one test.
func newPGDatabase(t *testing.T) string {
	t.Helper()
	pgtest.Require(t, pgEnv, pgReason)
	return pgEnv.NewDatabase(t)
}

// sql runs statements on the database as someone outside clankerd could.
func sql(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	for _, s := range stmts {
		if _, err := conn.Exec(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestPostgresMigrations(t *testing.T) {
	dsn := newPGDatabase(t)
	m, err := MigratePostgres(t.Context(), dsn)
	if err != nil || m != (Migration{From: 0, To: PostgresSchemaVersion}) {
		t.Fatalf("first migration = %+v, %v; want 0 → %d", m, err, PostgresSchemaVersion)
	}
	m, err = MigratePostgres(t.Context(), dsn)
	if err != nil || m != (Migration{From: PostgresSchemaVersion, To: PostgresSchemaVersion}) {
		t.Fatalf("second migration = %+v, %v; want nothing to do", m, err)
	}

	// Replicas starting together on an empty database migrate it once.
	dsn = newPGDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			db, err := OpenPostgres(t.Context(), dsn, Options{})
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent opens of an empty database: %v", err)
	}
}

func TestPostgresNewerSchemaRefused(t *testing.T) {
	tests := []struct {
		name   string
		tamper string
		want   string
	}{
		{"schema migration", "INSERT INTO schema_migrations (version) VALUES (99)", "has schema migration 99, newer than this build understands"},
		{"store schema", fmt.Sprintf("UPDATE kv SET value = '99' WHERE bucket = 'meta' AND key = '%s'", keySchema), "has schema version 99, newer than this build understands"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := newPGDatabase(t)
			db := openPG(t, dsn, Options{})
			db.Close()
			sql(t, dsn, tt.tamper)
			_, err := OpenPostgres(t.Context(), dsn, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "upgrade clankerd") {
				t.Errorf("opening: %v, want %q and to upgrade", err, tt.want)
			}
		})
	}
}

func TestPostgresAuditTamperingDetected(t *testing.T) {
	dsn := newPGDatabase(t)
	db := openPG(t, dsn, Options{})
	appendAudit(t, db, 5)
	sql(t, dsn, fmt.Sprintf(`UPDATE kv SET value = convert_to(replace(convert_from(value, 'UTF8'), '"me"', '"mallory"'), 'UTF8')
		WHERE bucket = 'audit' AND key = '\x%x'`, seqKey(3)))
	err := db.View(t.Context(), func(tx *Tx) error { _, err := tx.VerifyAudit(); return err })
	var brk *AuditBreakError
	if !errors.As(err, &brk) || brk.Seq != 3 {
		t.Errorf("verify after editing record 3 in PostgreSQL: %v, want a break at 3", err)
	}
}

func TestPostgresBackupRefused(t *testing.T) {
	db := openPG(t, newPGDatabase(t), Options{})
	if _, err := db.Backup(&strings.Builder{}); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("Backup of a PostgreSQL store: %v, want an error naming pg_dump", err)
	}
}

func TestPostgresPathIsRedacted(t *testing.T) {
	dsn := newPGDatabase(t)
	db := openPG(t, strings.Replace(dsn, "?", "?password=s3cret&", 1), Options{})
	if strings.Contains(db.Path(), "s3cret") || !strings.Contains(db.Path(), "password=xxxxx") {
		t.Errorf("Path() = %q, want the password redacted", db.Path())
	}
}

// countTask counts how often it was applied.
type countTask struct{ applied atomic.Int32 }

func (c *countTask) Spec() checks.Spec { return checks.Spec{ID: "test.count"} }
func (c *countTask) Plan(context.Context, checks.Params) (checks.Plan, error) {
	return checks.Plan{}, nil
}
func (c *countTask) Apply(context.Context, checks.Plan) (checks.Applied, error) {
	c.applied.Add(1)
	return checks.Applied{Summary: "counted"}, nil
}
func (c *countTask) Task(id string) (checks.Task, bool) { return c, id == "test.count" }

// Two replicas on one database: of 100 concurrent approvals of one plan, through
// both, exactly one applies it.
func TestPostgresConcurrentApprovalsApplyOnce(t *testing.T) {
	dsn := newPGDatabase(t)
	task := &countTask{}
	key := []byte("the replicas' shared key")
	services := []*tasks.Service{
		{Store: openPG(t, dsn, Options{}), Tasks: task, Key: key},
		{Store: openPG(t, dsn, Options{}), Tasks: task, Key: key},
	}
	plan, _, err := services[0].Queue(t.Context(), tasks.Draft{Source: "cli", Plan: checks.Plan{
		Task: "test.count", Target: "counter", Change: "+1", Risk: checks.RiskLow, Observed: map[string]string{"n": "0"},
	}}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var applied, notPending atomic.Int32
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			_, err := services[i%2].Approve(t.Context(), plan.ID, plan.Digest, fmt.Sprintf("user%d", i))
			switch {
			case err == nil:
				applied.Add(1)
			case errors.Is(err, tasks.ErrNotPending):
				notPending.Add(1)
			default:
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("approval: %v", err)
	}
	if applied.Load() != 1 || notPending.Load() != 99 || task.applied.Load() != 1 {
		t.Errorf("approvals: %d applied, %d not pending, task applied %d times; want 1, 99, 1", applied.Load(), notPending.Load(), task.applied.Load())
	}
	db := services[1].Store.(*DB)
	mustView(t, db, func(tx *Tx) error {
		if _, err := tx.VerifyAudit(); err != nil {
			return err
		}
		recs, err := tx.AuditLog(AuditFilter{})
		n := 0
		for _, r := range recs {
			if r.Subject == plan.ID && r.Action == "plan.applied" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d plan.applied records, want 1", n)
		}
		return err
	})
}

// Two replicas recording runs at once keep one audit chain and one sequence of
// receipts.
func TestPostgresConcurrentWritersKeepOneChain(t *testing.T) {
	dsn := newPGDatabase(t)
	dbs := []*DB{openPG(t, dsn, Options{}), openPG(t, dsn, Options{})}
	const writers, rounds = 8, 5
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			db := dbs[w%2]
			for r := range rounds {
				err := db.Update(t.Context(), func(tx *Tx) error {
					now := time.Now()
					seq, err := tx.BeginRun(Receipt{Item: fmt.Sprintf("item%d", w), Check: "test.check", Pos: "HB.md:1", Trigger: TriggerSchedule, Scheduled: now, Started: now})
					if err != nil {
						return err
					}
					if _, err := tx.EndRun(seq, RunEnd{Status: checks.Fail, Findings: []checks.Finding{finding(fmt.Sprint(r), "p", "s")}}); err != nil {
						return err
					}
					return tx.Audit("daemon", "test.run", fmt.Sprint(seq), nil)
				})
				if err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, db := range dbs {
		mustView(t, db, func(tx *Tx) error {
			n, err := tx.VerifyAudit()
			if n != writers*rounds {
				t.Errorf("handle %d: the chain holds %d records, want %d", i, n, writers*rounds)
			}
			runs, rerr := tx.Runs(RunFilter{})
			if len(runs) != writers*rounds || runs[0].Seq != writers*rounds {
				t.Errorf("handle %d: %d receipts, newest %d; want %d", i, len(runs), runs[0].Seq, writers*rounds)
			}
			return errors.Join(err, rerr)
		})
	}
	checkIndexes(t, dbs[0])
}

// A laptop's bbolt history moves into PostgreSQL without loss, and back.
func TestCopyBboltToPostgres(t *testing.T) {
	clk := checktest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), FileName)
	src, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	fillHistory(t, src, clk)
	want := historyOf(t, src)

	dsn := newPGDatabase(t)
	dst := openPG(t, dsn, Options{Now: clk.Now})
	res, err := Copy(t.Context(), src, dst, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.AuditRecords == 0 || len(res.Buckets) != len(allBuckets) {
		t.Errorf("copy result = %+v", res)
	}
	if got := historyOf(t, dst); got != want {
		t.Errorf("after the copy the target holds\n%s\nwant\n%s", got, want)
	}
	// New records continue the copied sequences and chain.
	appendAudit(t, dst, 1)
	mustView(t, dst, func(tx *Tx) error {
		n, err := tx.VerifyAudit()
		if n != res.AuditRecords+1 {
			t.Errorf("after one more record the chain holds %d, want %d", n, res.AuditRecords+1)
		}
		return err
	})

	if _, err := Copy(t.Context(), src, dst, false); !errors.Is(err, ErrTargetNotEmpty) {
		t.Errorf("copy into a non-empty store: %v, want ErrTargetNotEmpty", err)
	}
	if _, err := Copy(t.Context(), src, dst, true); err != nil {
		t.Errorf("copy with replace: %v", err)
	}
	if got := historyOf(t, dst); got != want {
		t.Errorf("after the replacing copy the target holds\n%s\nwant\n%s", got, want)
	}

	back, err := Open(filepath.Join(t.TempDir(), FileName), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	if _, err := Copy(t.Context(), dst, back, false); err != nil {
		t.Fatalf("copy back to bbolt: %v", err)
	}
	if got := historyOf(t, back); got != want {
		t.Errorf("copied back, bbolt holds\n%s\nwant\n%s", got, want)
	}
}

// fillHistory records runs, findings in every state, a plan, a mute, a baseline and
// the audit records they make.
func fillHistory(t *testing.T, db *DB, clk *clock) {
	t.Helper()
	runOnce(t, db, clk, "a", checks.Fail, finding("x", "p", "s"), finding("y", "p", "s"))
	runOnce(t, db, clk, "a", checks.Fail, finding("y", "p", "changed"))
	runOnce(t, db, clk, "b", checks.Pass)
	trackRun(t, db, clk, "c", facts(fact("r1", "k", checks.Medium)))
	trackRun(t, db, clk, "c", facts(fact("r1", "k", checks.Medium), fact("r2", "k", checks.Medium)))
	mustUpdate(t, db, func(tx *Tx) error {
		if err := tx.PutPlan(testPlan("p-1", "a", clk.Now())); err != nil {
			return err
		}
		if err := tx.Audit("alice", "plan.created", "p-1", nil); err != nil {
			return err
		}
		_, err := tx.AddMute(Mute{Check: "test.check", Resource: "y", Owner: "ann", Reason: "known", ExpiresAt: clk.Now().Add(time.Hour)})
		return err
	})
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.AcceptBaseline(BaselineSelector{Item: "c"}, "ann", "expected")
		return err
	})
}

// historyOf sums up what the state holds, as the commands show it.
func historyOf(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	mustView(t, db, func(tx *Tx) error {
		runs, err := tx.Runs(RunFilter{})
		for _, r := range runs {
			fmt.Fprintf(&b, "run %d %s %s %+v\n", r.Seq, r.Item, r.Status, r.Findings)
		}
		fs, ferr := tx.Findings(FindingFilter{})
		for _, f := range fs {
			fmt.Fprintf(&b, "finding %s %s %s muted=%v\n", f.Item, f.Resource, f.State, f.MutedBy != "")
		}
		ps, perr := tx.Plans(tasks.PlanFilter{})
		for _, p := range ps {
			fmt.Fprintf(&b, "plan %s %s\n", p.ID, p.State)
		}
		ms, merr := tx.Mutes(true)
		for _, m := range ms {
			fmt.Fprintf(&b, "mute %s %s\n", m.ID, m.Reason)
		}
		bs, berr := tx.Baselines(BaselineSelector{})
		for _, bl := range bs {
			fmt.Fprintf(&b, "baseline %s %d facts\n", bl.Item, len(bl.Facts))
		}
		n, verr := tx.VerifyAudit()
		fmt.Fprintf(&b, "audit %d\n", n)
		return errors.Join(err, ferr, perr, merr, berr, verr)
	})
	return b.String()
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://clankerd:s3cret@db.internal:5432/state?sslmode=require", "postgres://clankerd:xxxxx@db.internal:5432/state?sslmode=require"},
		{"postgresql://clankerd@127.0.0.1/state?password=s3cret", "postgresql://clankerd@127.0.0.1/state?password=xxxxx"},
		{"postgres://clankerd@127.0.0.1:5432/state", "postgres://clankerd@127.0.0.1:5432/state"},
		{"host=db user=clankerd password=s3cret dbname=state", "host=db user=clankerd password=xxxxx dbname=state"},
		{"host=db password='s3 cret' dbname=state", "host=db password=xxxxx dbname=state"},
		{"postgres://u:s3cret@%zz/state", "postgres://(a DSN that does not parse)"},
	}
	for _, tt := range tests {
		if got := RedactDSN(tt.dsn); got != tt.want || strings.Contains(got, "s3") {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
}

// An event queued through one replica wakes the sender of another at once.
func TestPostgresOutboxSignalReachesOtherReplicas(t *testing.T) {
	dsn := newPGDatabase(t)
	queuer, sender := openPG(t, dsn, Options{}), openPG(t, dsn, Options{})
	// The sender's listener connects in the background: queue until it hears one.
	deadline := time.After(10 * time.Second)
	for {
		mustUpdate(t, queuer, func(tx *Tx) error { return tx.Enqueue(OutboxEvent{}) })
		select {
		case <-sender.OutboxSignal():
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("the other replica's sender was not signalled within 10s of queueing")
		}
	}
}

func TestOpenLocationRefusesUnknownStores(t *testing.T) {
	for _, loc := range []string{"mysql://u:s3cret@db/x", "bbolt:"} {
		if _, err := OpenLocation(t.Context(), loc, Options{}); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("OpenLocation(%q) = %v, want an error without the password", loc, err)
		}
	}
}
