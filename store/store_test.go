package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/clankerd/clankerd/checks"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openTest(t *testing.T, opts Options) (*DB, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	db, err := Open(filepath.Join(t.TempDir(), "state.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, clk
}

// runOnce records one run of item with the given status and findings.
func runOnce(t *testing.T, db *DB, clk *clock, item string, status checks.Status, fs ...checks.Finding) (Receipt, []FindingRecord) {
	t.Helper()
	clk.Advance(time.Minute)
	var r Receipt
	var changes []FindingRecord
	err := db.Update(t.Context(), func(tx *Tx) error {
		seq, err := tx.BeginRun(Receipt{Item: item, Check: "test.check", Pos: "HB.md:1", Trigger: TriggerManual, Scheduled: clk.Now(), Started: clk.Now()})
		if err != nil {
			return err
		}
		r, changes, err = tx.EndRun(seq, RunEnd{Ended: clk.Now(), Status: status, Findings: fs})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, changes
}

func finding(resource, problem, summary string) checks.Finding {
	return checks.Finding{Resource: resource, Problem: problem, Severity: checks.High, Summary: summary, Evidence: map[string]string{"k": summary}}
}

func statesOf(t *testing.T, db *DB, item string) map[string]FindingState {
	t.Helper()
	out := map[string]FindingState{}
	err := db.View(t.Context(), func(tx *Tx) error {
		fs, err := tx.Findings(FindingFilter{Item: item})
		for _, f := range fs {
			out[f.Resource] = f.State
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffResources(t *testing.T, db *DB) []string {
	t.Helper()
	var out []string
	err := db.View(t.Context(), func(tx *Tx) error {
		fs, err := tx.Diff()
		for _, f := range fs {
			out = append(out, f.Resource+":"+string(f.State))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestFindingLifecycle(t *testing.T) {
	db, clk := openTest(t, Options{})
	a, b := finding("pod/a", "crashloop", "restarting"), finding("pod/b", "crashloop", "restarting")

	steps := []struct {
		name   string
		status checks.Status
		found  []checks.Finding
		want   map[string]FindingState
		counts FindingCounts
		diff   []string
	}{
		{"first run finds two", checks.Fail, []checks.Finding{a, b},
			map[string]FindingState{"pod/a": FindingNew, "pod/b": FindingNew}, FindingCounts{New: 2},
			[]string{"pod/a:new", "pod/b:new"}},
		{"same again is unchanged", checks.Fail, []checks.Finding{a, b},
			map[string]FindingState{"pod/a": FindingUnchanged, "pod/b": FindingUnchanged}, FindingCounts{Unchanged: 2},
			nil},
		{"different evidence is changed", checks.Fail, []checks.Finding{finding("pod/a", "crashloop", "oom"), b},
			map[string]FindingState{"pod/a": FindingChanged, "pod/b": FindingUnchanged}, FindingCounts{Changed: 1, Unchanged: 1},
			[]string{"pod/a:changed"}},
		{"an error run resolves nothing", checks.Error, nil,
			map[string]FindingState{"pod/a": FindingChanged, "pod/b": FindingUnchanged}, FindingCounts{},
			[]string{"pod/a:changed"}},
		{"a skipped run resolves nothing", checks.Skipped, nil,
			map[string]FindingState{"pod/a": FindingChanged, "pod/b": FindingUnchanged}, FindingCounts{},
			[]string{"pod/a:changed"}},
		{"gone after a completed run is resolved", checks.Fail, []checks.Finding{b},
			map[string]FindingState{"pod/a": FindingResolved, "pod/b": FindingUnchanged}, FindingCounts{Resolved: 1, Unchanged: 1},
			[]string{"pod/a:resolved"}},
		{"a pass resolves the rest", checks.Pass, nil,
			map[string]FindingState{"pod/a": FindingResolved, "pod/b": FindingResolved}, FindingCounts{Resolved: 1},
			[]string{"pod/b:resolved"}},
		{"back again is new", checks.Fail, []checks.Finding{a},
			map[string]FindingState{"pod/a": FindingNew, "pod/b": FindingResolved}, FindingCounts{New: 1},
			[]string{"pod/a:new"}},
	}
	for _, s := range steps {
		r, changes := runOnce(t, db, clk, "item1", s.status, s.found...)
		if got := statesOf(t, db, "item1"); !equalStates(got, s.want) {
			t.Fatalf("%s: states = %v, want %v", s.name, got, s.want)
		}
		if r.Findings != s.counts {
			t.Errorf("%s: counts = %+v, want %+v", s.name, r.Findings, s.counts)
		}
		if got := diffResources(t, db); !slices.Equal(got, s.diff) {
			t.Errorf("%s: diff = %v, want %v", s.name, got, s.diff)
		}
		if len(changes) != s.counts.New+s.counts.Changed+s.counts.Resolved {
			t.Errorf("%s: %d changes returned, counts %+v", s.name, len(changes), s.counts)
		}
	}
	// Re-opened finding starts a new occurrence.
	_ = db.View(t.Context(), func(tx *Tx) error {
		fs, _ := tx.Findings(FindingFilter{Item: "item1", States: []FindingState{FindingNew}})
		if len(fs) != 1 || !fs[0].ResolvedAt.IsZero() || !fs[0].FirstSeen.Equal(clk.Now()) {
			t.Errorf("reopened finding = %+v", fs)
		}
		st, _, _ := tx.ItemState("item1")
		if st.OpenFindings != 1 || st.LastStatus != checks.Fail {
			t.Errorf("item state = %+v", st)
		}
		return nil
	})
}

func equalStates(a, b map[string]FindingState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestItemsDoNotCollide(t *testing.T) {
	db, clk := openTest(t, Options{})
	f := finding("host/x", "down", "down")
	runOnce(t, db, clk, "item1", checks.Fail, f)
	runOnce(t, db, clk, "item2", checks.Fail, f)
	runOnce(t, db, clk, "item1", checks.Pass)
	if got := statesOf(t, db, "item2"); got["host/x"] != FindingNew {
		t.Errorf("item2's finding was touched by item1's run: %v", got)
	}
	if got := statesOf(t, db, "item1"); got["host/x"] != FindingResolved {
		t.Errorf("item1 = %v", got)
	}
}

func TestErrorRunKeepsLastCompleted(t *testing.T) {
	db, clk := openTest(t, Options{})
	first, _ := runOnce(t, db, clk, "item1", checks.Fail, finding("a", "p", "s"))
	runOnce(t, db, clk, "item1", checks.Error)
	_ = db.View(t.Context(), func(tx *Tx) error {
		st, _, _ := tx.ItemState("item1")
		if st.LastCompleted != first.Seq || st.LastStatus != checks.Error {
			t.Errorf("state after error run = %+v, want LastCompleted %d", st, first.Seq)
		}
		return nil
	})
}

func TestRunsFilterAndInterrupted(t *testing.T) {
	db, clk := openTest(t, Options{})
	for i := range 5 {
		runOnce(t, db, clk, []string{"a", "b"}[i%2], checks.Pass)
	}
	var running uint64
	_ = db.Update(t.Context(), func(tx *Tx) error {
		var err error
		running, err = tx.BeginRun(Receipt{Item: "a", Check: "test.check", Pos: "HB.md:1", Started: clk.Now()})
		return err
	})
	err := db.View(t.Context(), func(tx *Tx) error {
		all, _ := tx.Runs(RunFilter{})
		if len(all) != 6 || all[0].Seq != running || all[0].Status != StatusRunning {
			t.Errorf("all runs = %d, newest %+v", len(all), all[0])
		}
		a, _ := tx.Runs(RunFilter{Item: "a", Limit: 2})
		if len(a) != 2 || a[0].Item != "a" || a[0].Seq < a[1].Seq {
			t.Errorf("item a, limit 2 = %+v", a)
		}
		byCheck, _ := tx.Runs(RunFilter{Check: "test.check", Limit: 3})
		if len(byCheck) != 3 || byCheck[0].Seq != running {
			t.Errorf("by check = %d runs, first %d", len(byCheck), byCheck[0].Seq)
		}
		recent, _ := tx.Runs(RunFilter{Since: clk.Now().Add(-30 * time.Second)})
		if len(recent) != 2 {
			t.Errorf("since 30s = %d runs, want 2 (the running one and the last)", len(recent))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	_ = db.Update(t.Context(), func(tx *Tx) error {
		n, err = tx.MarkInterrupted("interrupted")
		return err
	})
	_ = db.View(t.Context(), func(tx *Tx) error {
		r, _ := tx.Receipt(running)
		if n != 1 || r.Status != checks.Error || r.Error != "interrupted" || r.Ended.IsZero() {
			t.Errorf("interrupted: n=%d receipt=%+v", n, r)
		}
		return nil
	})
}

func TestEndRunTwiceFails(t *testing.T) {
	db, clk := openTest(t, Options{})
	r, _ := runOnce(t, db, clk, "a", checks.Pass)
	err := db.Update(t.Context(), func(tx *Tx) error {
		_, _, err := tx.EndRun(r.Seq, RunEnd{Status: checks.Pass})
		return err
	})
	if err == nil {
		t.Error("ending a run twice succeeded")
	}
}

func TestRetention(t *testing.T) {
	t.Run("by count", func(t *testing.T) {
		db, clk := openTest(t, Options{Retention: Retention{MaxRuns: 10}})
		for range 25 {
			runOnce(t, db, clk, "a", checks.Pass)
		}
		_ = db.Update(t.Context(), func(tx *Tx) error {
			if _, err := tx.Prune(); err != nil {
				t.Fatal(err)
			}
			runs, _ := tx.Runs(RunFilter{})
			idx, _ := tx.Runs(RunFilter{Item: "a"})
			if len(runs) != 10 || runs[len(runs)-1].Seq != 16 || len(idx) != 10 {
				t.Errorf("kept %d runs (%d via index), oldest %d", len(runs), len(idx), runs[len(runs)-1].Seq)
			}
			return nil
		})
	})
	t.Run("by age, with resolved findings", func(t *testing.T) {
		db, clk := openTest(t, Options{Retention: Retention{MaxAge: time.Hour}})
		runOnce(t, db, clk, "a", checks.Fail, finding("x", "p", "s"))
		runOnce(t, db, clk, "a", checks.Pass)
		clk.Advance(2 * time.Hour)
		runOnce(t, db, clk, "a", checks.Pass)
		_ = db.Update(t.Context(), func(tx *Tx) error {
			n, err := tx.Prune()
			if err != nil || n != 2 {
				t.Errorf("pruned %d, %v; want 2", n, err)
			}
			fs, _ := tx.Findings(FindingFilter{})
			if len(fs) != 0 {
				t.Errorf("resolved finding older than the age bound kept: %+v", fs)
			}
			return nil
		})
	})
}

func TestFindingsFilter(t *testing.T) {
	db, clk := openTest(t, Options{})
	low := finding("r/low", "p", "s")
	low.Severity = checks.Low
	runOnce(t, db, clk, "a", checks.Fail, finding("r/high", "p", "s"), low)
	_ = db.View(t.Context(), func(tx *Tx) error {
		fs, _ := tx.Findings(FindingFilter{})
		if len(fs) != 2 || fs[0].Resource != "r/high" {
			t.Errorf("not sorted by severity: %+v", fs)
		}
		fs, _ = tx.Findings(FindingFilter{Severity: checks.Medium})
		if len(fs) != 1 {
			t.Errorf("severity filter: %d", len(fs))
		}
		fs, _ = tx.Findings(FindingFilter{Check: "other.check"})
		if len(fs) != 0 {
			t.Errorf("check filter: %d", len(fs))
		}
		fs, _ = tx.Findings(FindingFilter{Since: clk.Now().Add(time.Second)})
		if len(fs) != 0 {
			t.Errorf("since filter: %d", len(fs))
		}
		return nil
	})
}

func testPlan(id, item string, created time.Time) PlanRecord {
	plan := checks.Plan{Task: "test.scale", Params: checks.NewParams(map[string]string{"replicas": "3"}), Target: "thing/a", Observed: map[string]string{"replicas": "1"}, Change: "replicas 1 → 3", Risk: checks.RiskLow}
	return PlanRecord{ID: id, Item: item, Source: "HB.md:3", Plan: plan, State: PlanPending, CreatedAt: created, ExpiresAt: created.Add(time.Hour), UpdatedAt: created, Digest: PlanDigest(plan)}
}

func TestPlans(t *testing.T) {
	db, clk := openTest(t, Options{})
	err := db.Update(t.Context(), func(tx *Tx) error {
		if err := tx.PutPlan(testPlan("p-1", "item", clk.Now())); err != nil {
			return err
		}
		return tx.PutPlan(testPlan("p-2", "", clk.Now().Add(time.Second)))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(t.Context(), func(tx *Tx) error {
		p, ok, err := tx.PendingPlanFor("item")
		if err != nil || !ok || p.ID != "p-1" {
			t.Errorf("PendingPlanFor = %v %v %v", p.ID, ok, err)
		}
		all, _ := tx.Plans(PlanFilter{})
		if len(all) != 2 || all[0].ID != "p-2" {
			t.Errorf("Plans not newest first: %v", all)
		}
		_, err = tx.Plan("p-404")
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("missing plan error = %v", err)
		}
		return nil
	})
	clk.Advance(2 * time.Hour)
	_ = db.View(t.Context(), func(tx *Tx) error {
		if _, ok, _ := tx.PendingPlanFor("item"); ok {
			t.Error("expired plan still pending for its item")
		}
		expired, _ := tx.Plans(PlanFilter{States: []PlanState{PlanExpired}})
		if len(expired) != 2 {
			t.Errorf("expired by time: %d plans, want 2", len(expired))
		}
		return nil
	})
	_ = db.Update(t.Context(), func(tx *Tx) error {
		p, _ := tx.Plan("p-1")
		p.State = PlanRejected
		return tx.PutPlan(p)
	})
	_ = db.View(t.Context(), func(tx *Tx) error {
		if tx.bucket(bucketPlansPending).Get([]byte("item")) != nil {
			t.Error("pending index not cleared after the state changed")
		}
		return nil
	})
}

func TestPlanDigest(t *testing.T) {
	p := testPlan("p", "", time.Now()).Plan
	q := p
	q.Observed = map[string]string{"replicas": "2"}
	r := p
	r.Params = checks.NewParams(map[string]string{"replicas": "4"})
	if PlanDigest(p) == PlanDigest(q) || PlanDigest(p) == PlanDigest(r) {
		t.Error("digest does not cover observed state and params")
	}
	if PlanDigest(p) != PlanDigest(testPlan("other", "x", time.Now()).Plan) {
		t.Error("digest depends on more than the change")
	}
}

func appendAudit(t *testing.T, db *DB, n int) {
	t.Helper()
	err := db.Update(t.Context(), func(tx *Tx) error {
		for i := range n {
			if _, err := tx.Audit(AuditEntry{Actor: "me", Action: "test.action", Subject: "s", Detail: map[string]string{"i": string(rune('a' + i))}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, path string) (int, error) {
	t.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	err = db.View(context.Background(), func(tx *Tx) error {
		n, err = tx.VerifyAudit()
		return err
	})
	return n, err
}

// tamper edits the raw bbolt file, as someone outside clankerd could.
func tamper(t *testing.T, path string, fn func(b *bolt.Bucket)) {
	t.Helper()
	raw, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.Update(func(tx *bolt.Tx) error { fn(tx.Bucket(bucketAudit)); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestAuditChain(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(b *bolt.Bucket)
		wantSeq uint64
	}{
		{"intact", nil, 0},
		{"edited record", func(b *bolt.Bucket) {
			v := b.Get(seqKey(3))
			edited := []byte(string(v[:len(v)-2]) + `,"x":1}`)
			_ = b.Put(seqKey(3), []byte(replaceOnce(string(edited), `"actor":"me"`, `"actor":"mallory"`)))
		}, 3},
		{"deleted middle record", func(b *bolt.Bucket) { _ = b.Delete(seqKey(2)) }, 2},
		{"deleted last record", func(b *bolt.Bucket) { _ = b.Delete(seqKey(5)) }, 5},
		{"garbage record", func(b *bolt.Bucket) { _ = b.Put(seqKey(4), []byte("{not json")) }, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := openTest(t, Options{})
			appendAudit(t, db, 5)
			path := db.Path()
			_ = db.View(t.Context(), func(tx *Tx) error {
				log, _ := tx.AuditLog(AuditFilter{})
				if len(log) != 5 || log[0].Prev != "" || log[1].Prev != log[0].Hash {
					t.Errorf("chain links wrong: %+v", log)
				}
				last2, _ := tx.AuditLog(AuditFilter{Limit: 2})
				since, _ := tx.AuditLog(AuditFilter{Since: 3})
				if len(last2) != 2 || last2[0].Seq != 4 || len(since) != 2 || since[0].Seq != 4 {
					t.Errorf("filters: limit %v since %v", last2, since)
				}
				return nil
			})
			db.Close()
			if tt.tamper != nil {
				tamper(t, path, tt.tamper)
			}
			n, err := verify(t, path)
			if tt.wantSeq == 0 {
				if err != nil || n != 5 {
					t.Fatalf("intact chain: n=%d err=%v", n, err)
				}
				return
			}
			var be *AuditBreakError
			if !errors.As(err, &be) || !errors.Is(err, ErrAuditBroken) {
				t.Fatalf("tampering not detected: n=%d err=%v", n, err)
			}
			if be.Seq != tt.wantSeq {
				t.Errorf("break named record %d, want %d (%v)", be.Seq, tt.wantSeq, err)
			}
		})
	}
}

func replaceOnce(s, old, repl string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + repl + s[i+len(old):]
		}
	}
	return s
}

func TestLockedFailsFast(t *testing.T) {
	db, _ := openTest(t, Options{})
	start := time.Now()
	_, err := Open(db.Path(), Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("second open took %s", time.Since(start))
	}
	appendAudit(t, db, 1) // the first handle still works
}

func TestOpenCloseReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "state")
	path := filepath.Join(dir, "state.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendAudit(t, db, 2)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	if n, err := verify(t, path); n != 2 || err != nil {
		t.Errorf("after reopen: %d records, %v", n, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	db, _ := openTest(t, Options{})
	path := db.Path()
	db.Close()
	raw, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) })
	raw.Close()
	if _, err := Open(path, Options{}); err == nil {
		t.Error("a database with a newer schema was opened")
	}
}

func TestManualRunsDoNotMoveTheSchedule(t *testing.T) {
	db, clk := openTest(t, Options{})
	tick := clk.Now()
	err := db.Update(t.Context(), func(tx *Tx) error {
		_, err := tx.AddReceipt(Receipt{Item: "a", Check: "c.x", Pos: "HB.md:1", Trigger: TriggerSchedule, Scheduled: tick, Started: tick, Ended: tick, Status: checks.Skipped, Error: "outside active hours"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	runOnce(t, db, clk, "a", checks.Pass) // manual, a minute later
	_ = db.View(t.Context(), func(tx *Tx) error {
		st, _, _ := tx.ItemState("a")
		if !st.LastScheduled.Equal(tick) || st.LastStatus != checks.Pass {
			t.Errorf("state = %+v, want LastScheduled %s", st, tick)
		}
		return nil
	})
}
