package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/checktest"
	"github.com/clankerd/clankerd/tasks"
)

// clock is a settable test clock.
type clock = checktest.Clock

func openTest(t *testing.T, opts Options) (*DB, *clock) {
	t.Helper()
	clk := checktest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	db := openSuiteDB(t, opts)
	t.Cleanup(func() { db.Close() })
	return db, clk
}

// runOnce records one run of item with the given status and findings, and returns
// its receipt and the findings it made new, changed or resolved.
func runOnce(t *testing.T, db *DB, clk *clock, item string, status checks.Status, fs ...checks.Finding) (Receipt, []FindingRecord) {
	t.Helper()
	res := endRun(t, db, clk, item, status, fs...)
	var changes []FindingRecord
	for _, f := range res.Changed() {
		changes = append(changes, f.FindingRecord)
	}
	return res.Receipt, changes
}

// endRun records one run of item a minute after the last, and returns what EndRun did.
func endRun(t *testing.T, db *DB, clk *clock, item string, status checks.Status, fs ...checks.Finding) RunResult {
	t.Helper()
	clk.Advance(time.Minute)
	var res RunResult
	err := db.Update(t.Context(), func(tx *Tx) error {
		seq, err := tx.BeginRun(Receipt{Item: item, Check: "test.check", Pos: "HB.md:1", Trigger: TriggerManual, Scheduled: clk.Now(), Started: clk.Now()})
		if err != nil {
			return err
		}
		res, err = tx.EndRun(seq, RunEnd{Ended: clk.Now(), Status: status, Findings: fs})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// mustView runs fn in a read transaction and fails the test on its error.
func mustView(t *testing.T, db *DB, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.View(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

// mustUpdate runs fn in a write transaction and fails the test on its error.
func mustUpdate(t *testing.T, db *DB, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.Update(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
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
	mustView(t, db, func(tx *Tx) error {
		fs, err := tx.Diff()
		out = resourceStates(fs)
		return err
	})
	return out
}

func TestFindingLifecycle(t *testing.T) {
	db, clk := openTest(t, Options{})
	a, b := finding("pod/a", "crashloop", "restarting"), finding("pod/b", "crashloop", "restarting")
	costly := b
	cost := 12.5
	costly.MonthlyCostUSD = &cost

	steps := []struct {
		name   string
		status checks.Status
		found  []checks.Finding
		want   map[string]FindingState
		counts FindingCounts
		// diff is Diff after the run.
		diff []string
		// completed: the run moves the item's LastCompleted.
		completed bool
	}{
		{"first run finds two", checks.Fail, []checks.Finding{a, b},
			map[string]FindingState{"pod/a": FindingNew, "pod/b": FindingNew}, FindingCounts{New: 2},
			[]string{"pod/a:new", "pod/b:new"}, true},
		{"same again is unchanged", checks.Fail, []checks.Finding{a, b},
			map[string]FindingState{"pod/a": FindingUnchanged, "pod/b": FindingUnchanged}, FindingCounts{Unchanged: 2},
			nil, true},
		{"different evidence is changed", checks.Fail, []checks.Finding{finding("pod/a", "crashloop", "oom"), b},
			map[string]FindingState{"pod/a": FindingChanged, "pod/b": FindingUnchanged}, FindingCounts{Changed: 1, Unchanged: 1},
			[]string{"pod/a:changed"}, true},
		{"an error run resolves nothing", checks.Error, nil,
			map[string]FindingState{"pod/a": FindingChanged, "pod/b": FindingUnchanged}, FindingCounts{},
			[]string{"pod/a:changed"}, false},
		{"a skipped run resolves nothing", checks.Skipped, nil,
			map[string]FindingState{"pod/a": FindingChanged, "pod/b": FindingUnchanged}, FindingCounts{},
			[]string{"pod/a:changed"}, false},
		{"a new cost is changed", checks.Fail, []checks.Finding{finding("pod/a", "crashloop", "oom"), costly},
			map[string]FindingState{"pod/a": FindingUnchanged, "pod/b": FindingChanged}, FindingCounts{Unchanged: 1, Changed: 1},
			[]string{"pod/b:changed"}, true},
		{"gone after a completed run is resolved", checks.Fail, []checks.Finding{costly},
			map[string]FindingState{"pod/a": FindingResolved, "pod/b": FindingUnchanged}, FindingCounts{Resolved: 1, Unchanged: 1},
			[]string{"pod/a:resolved"}, true},
		{"a pass resolves the rest", checks.Pass, nil,
			map[string]FindingState{"pod/a": FindingResolved, "pod/b": FindingResolved}, FindingCounts{Resolved: 1},
			[]string{"pod/b:resolved"}, true},
		{"back again is new", checks.Fail, []checks.Finding{a},
			map[string]FindingState{"pod/a": FindingNew, "pod/b": FindingResolved}, FindingCounts{New: 1},
			[]string{"pod/a:new"}, true},
	}
	var lastCompleted uint64
	for _, s := range steps {
		r, changes := runOnce(t, db, clk, "item1", s.status, s.found...)
		if s.completed {
			lastCompleted = r.Seq
		}
		if got := statesOf(t, db, "item1"); !equalStates(got, s.want) {
			t.Fatalf("%s: states = %v, want %v", s.name, got, s.want)
		}
		if r.Findings != s.counts {
			t.Errorf("%s: counts = %+v, want %+v", s.name, r.Findings, s.counts)
		}
		if got := diffResources(t, db); !slices.Equal(got, s.diff) {
			t.Errorf("%s: diff = %v, want %v", s.name, got, s.diff)
		}
		wantChanges := s.diff // a completed run's changes are what Diff shows next
		if !s.completed {
			wantChanges = nil
		}
		if got := resourceStates(changes); !slices.Equal(got, wantChanges) {
			t.Errorf("%s: EndRun returned changes %v, want %v", s.name, got, wantChanges)
		}
		mustView(t, db, func(tx *Tx) error {
			st, ok, err := tx.ItemState("item1")
			if err != nil || !ok {
				return fmt.Errorf("item state: found %v, %w", ok, err)
			}
			open := s.counts.New + s.counts.Unchanged + s.counts.Changed
			if st.LastCompleted != lastCompleted || st.LastRun != r.Seq || st.LastStatus != s.status || (s.completed && st.OpenFindings != open) {
				t.Errorf("%s: item state = %+v, want LastCompleted %d, LastRun %d, %d open", s.name, st, lastCompleted, r.Seq, open)
			}
			return nil
		})
		checkIndexes(t, db)
	}
	// The re-opened finding starts a new occurrence.
	mustView(t, db, func(tx *Tx) error {
		fs, err := tx.Findings(FindingFilter{Item: "item1", States: []FindingState{FindingNew}})
		if len(fs) != 1 || !fs[0].ResolvedAt.IsZero() || !fs[0].FirstSeen.Equal(clk.Now()) || fs[0].StateRun != lastCompleted {
			t.Errorf("reopened finding = %+v", fs)
		}
		return err
	})
}

// checkIndexes fails the test unless every index bucket holds exactly the entries
// that the stored records call for.
func checkIndexes(t *testing.T, db *DB) {
	t.Helper()
	want := map[string]map[string]bool{}
	add := func(bucket, key []byte) {
		if want[string(bucket)] == nil {
			want[string(bucket)] = map[string]bool{}
		}
		want[string(bucket)][string(key)] = true
	}
	indexes := [][]byte{bucketFindingsByItem, bucketFindingsByState, bucketFindingsByRun, bucketFindingsResolved, bucketRunsByItem}
	mustView(t, db, func(tx *Tx) error {
		err := tx.bucket(bucketFindings).ForEach(func(k, v []byte) error {
			var rec FindingRecord
			if err := tx.decode(bucketFindings, k, v, &rec); err != nil {
				return err
			}
			for _, bk := range findingIndexKeys(rec) {
				add(bk.bucket, bk.key)
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.bucket(bucketRuns).ForEach(func(k, v []byte) error {
			var r Receipt
			if err := tx.decode(bucketRuns, k, v, &r); err != nil {
				return err
			}
			add(bucketRunsByItem, indexKey([]byte(r.Item), k))
			return nil
		})
		if err != nil {
			return err
		}
		for _, b := range indexes {
			got := map[string]bool{}
			_ = tx.bucket(b).ForEach(func(k, _ []byte) error { got[string(k)] = true; return nil })
			if !maps.Equal(got, want[string(b)]) && len(got)+len(want[string(b)]) > 0 {
				t.Errorf("index %s holds %d entries, the records call for %d:\n got %q\nwant %q", b, len(got), len(want[string(b)]), slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want[string(b)])))
			}
		}
		return nil
	})
}

func resourceStates(fs []FindingRecord) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Resource+":"+string(f.State))
	}
	slices.Sort(out)
	return out
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
	// Diff holds item1's resolution and item2's new finding: each item's latest run.
	if got, want := diffResources(t, db), []string{"host/x:new", "host/x:resolved"}; !slices.Equal(got, want) {
		t.Errorf("diff = %v, want %v", got, want)
	}
	checkIndexes(t, db)
}

func TestBadStatusesRejected(t *testing.T) {
	db, clk := openTest(t, Options{})
	tests := []struct {
		name string
		fn   func(tx *Tx) error
	}{
		{"AddReceipt pass", func(tx *Tx) error {
			_, err := tx.AddReceipt(Receipt{Item: "a", Pos: "HB.md:1", Status: checks.Pass})
			return err
		}},
		{"AddReceipt running", func(tx *Tx) error {
			_, err := tx.AddReceipt(Receipt{Item: "a", Pos: "HB.md:1", Status: StatusRunning})
			return err
		}},
		{"receipt without item", func(tx *Tx) error {
			_, err := tx.BeginRun(Receipt{Pos: "HB.md:1"})
			return err
		}},
		{"EndRun without status", func(tx *Tx) error {
			seq, err := tx.BeginRun(Receipt{Item: "a", Pos: "HB.md:1", Started: clk.Now()})
			if err != nil {
				return nil // not what is tested: report no error so the test fails
			}
			_, err = tx.EndRun(seq, RunEnd{})
			return err
		}},
		{"EndRun of an unknown run", func(tx *Tx) error {
			_, err := tx.EndRun(999, RunEnd{Status: checks.Pass})
			if !errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.Update(t.Context(), tt.fn); err == nil {
				t.Error("accepted")
			}
		})
	}
	r, _ := runOnce(t, db, clk, "a", checks.Pass)
	err := db.Update(t.Context(), func(tx *Tx) error {
		_, err := tx.EndRun(r.Seq, RunEnd{Status: checks.Pass})
		return err
	})
	if err == nil {
		t.Error("ending a run twice succeeded")
	}
}

func TestRuns(t *testing.T) {
	db, clk := openTest(t, Options{})
	// Item a runs 1, 3 and 5 (still running), b runs 2, both test.check; c runs 4 of
	// other.check. (An item key includes its check id, so an item has one check.)
	var seqs []uint64
	for i, item := range []string{"a", "b", "a", "c", "a"} {
		clk.Advance(time.Minute)
		check := "test.check"
		if item == "c" {
			check = "other.check"
		}
		mustUpdate(t, db, func(tx *Tx) error {
			seq, err := tx.BeginRun(Receipt{Item: item, Check: check, Pos: "HB.md:1", Started: clk.Now()})
			seqs = append(seqs, seq)
			if err != nil || i == 4 {
				return err // the last run stays running
			}
			// Evidence that reads like a running status must not fool MarkInterrupted.
			_, err = tx.EndRun(seq, RunEnd{Status: checks.Pass, Evidence: map[string]string{"status": "running"}})
			return err
		})
	}
	tests := []struct {
		name   string
		filter RunFilter
		want   []uint64
	}{
		{"all, newest first", RunFilter{}, []uint64{5, 4, 3, 2, 1}},
		{"limit", RunFilter{Limit: 2}, []uint64{5, 4}},
		{"item", RunFilter{Item: "a"}, []uint64{5, 3, 1}},
		{"item and limit", RunFilter{Item: "a", Limit: 2}, []uint64{5, 3}},
		{"check", RunFilter{Check: "test.check"}, []uint64{5, 3, 2, 1}},
		{"check and limit", RunFilter{Check: "test.check", Limit: 3}, []uint64{5, 3, 2}},
		{"other check", RunFilter{Check: "other.check"}, []uint64{4}},
		{"since", RunFilter{Since: clk.Now().Add(-90 * time.Second)}, []uint64{5, 4}},
		{"item and since", RunFilter{Item: "a", Since: clk.Now().Add(-150 * time.Second)}, []uint64{5, 3}},
		{"check and since", RunFilter{Check: "test.check", Since: clk.Now().Add(-150 * time.Second)}, []uint64{5, 3}},
		{"unknown item", RunFilter{Item: "zzz"}, nil},
	}
	mustView(t, db, func(tx *Tx) error {
		for _, tt := range tests {
			runs, err := tx.Runs(tt.filter)
			if err != nil {
				return err
			}
			var got []uint64
			for _, r := range runs {
				got = append(got, r.Seq)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: runs %v, want %v", tt.name, got, tt.want)
			}
		}
		return nil
	})

	clk.Advance(time.Minute)
	var n int
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		n, err = tx.MarkInterrupted("interrupted")
		return err
	})
	mustView(t, db, func(tx *Tx) error {
		r, err := tx.Receipt(seqs[4])
		if n != 1 || r.Status != checks.Error || r.Error != "interrupted" || !r.Ended.Equal(clk.Now()) {
			t.Errorf("interrupted: n=%d receipt=%+v", n, r)
		}
		other, _ := tx.Receipt(seqs[3])
		if other.Status != checks.Pass {
			t.Errorf("a finished run was touched: %+v", other)
		}
		st, _, _ := tx.ItemState("a")
		if st.LastStatus != checks.Error || st.LastCompleted != seqs[2] {
			t.Errorf("item state after MarkInterrupted = %+v", st)
		}
		return err
	})
}

func TestItemStatesSortedByPosition(t *testing.T) {
	db, clk := openTest(t, Options{})
	for _, pos := range []string{"b.md:2", "a.md:10", "a.md:9", "a.md:100"} {
		mustUpdate(t, db, func(tx *Tx) error {
			_, err := tx.AddReceipt(Receipt{Item: "item@" + pos, Pos: pos, Started: clk.Now(), Status: checks.Skipped})
			return err
		})
	}
	mustView(t, db, func(tx *Tx) error {
		states, err := tx.ItemStates()
		var got []string
		for _, st := range states {
			got = append(got, st.Pos)
		}
		if want := []string{"a.md:9", "a.md:10", "a.md:100", "b.md:2"}; !slices.Equal(got, want) {
			t.Errorf("ItemStates order = %v, want %v", got, want)
		}
		return err
	})
}

func TestRetention(t *testing.T) {
	count := func(t *testing.T, db *DB) (runs, indexed int) {
		t.Helper()
		mustView(t, db, func(tx *Tx) error {
			all, err := tx.Runs(RunFilter{})
			if err != nil {
				return err
			}
			idx, err := tx.Runs(RunFilter{Item: "a"})
			runs, indexed = len(all), len(idx)
			return err
		})
		return runs, indexed
	}
	t.Run("zero keeps everything", func(t *testing.T) {
		// --keep-runs 0 --keep-runs-for 0: no bound, not the defaults.
		db, clk := openTest(t, Options{Retention: &Retention{}})
		for range 3 {
			runOnce(t, db, clk, "a", checks.Pass)
		}
		clk.Advance(365 * 24 * time.Hour)
		mustUpdate(t, db, func(tx *Tx) error {
			_, err := tx.Prune()
			return err
		})
		if runs, _ := count(t, db); runs != 3 {
			t.Errorf("%d receipts left of 3", runs)
		}
	})
	t.Run("by count", func(t *testing.T) {
		db, clk := openTest(t, Options{Retention: &Retention{MaxRuns: 10}})
		for range 25 {
			runOnce(t, db, clk, "a", checks.Pass)
		}
		mustUpdate(t, db, func(tx *Tx) error {
			n, err := tx.Prune()
			if n != 15 {
				t.Errorf("pruned %d receipts, want 15", n)
			}
			return err
		})
		mustView(t, db, func(tx *Tx) error {
			runs, err := tx.Runs(RunFilter{})
			if len(runs) != 10 || runs[len(runs)-1].Seq != 16 {
				t.Errorf("kept %d runs, oldest %d; want 10, oldest 16", len(runs), runs[len(runs)-1].Seq)
			}
			return err
		})
		if runs, indexed := count(t, db); indexed != runs {
			t.Errorf("the item index holds %d receipts, the log %d", indexed, runs)
		}
	})
	t.Run("while recording", func(t *testing.T) {
		db, clk := openTest(t, Options{Retention: &Retention{MaxRuns: 10}})
		for i := range 3 * pruneEvery {
			runOnce(t, db, clk, "a", checks.Pass)
			if runs, _ := count(t, db); runs > 10+pruneEvery {
				t.Fatalf("after %d runs %d receipts are kept; retention does not run while recording", i+1, runs)
			}
		}
		if runs, indexed := count(t, db); runs >= 3*pruneEvery || indexed != runs {
			t.Errorf("%d receipts (%d indexed) after %d runs with MaxRuns 10", runs, indexed, 3*pruneEvery)
		}
		checkIndexes(t, db)
	})
	t.Run("by age, with resolved findings", func(t *testing.T) {
		db, clk := openTest(t, Options{Retention: &Retention{MaxAge: time.Hour}})
		runOnce(t, db, clk, "a", checks.Fail, finding("x", "p", "s"), finding("y", "p", "s"))
		runOnce(t, db, clk, "a", checks.Fail, finding("y", "p", "s"))
		clk.Advance(2 * time.Hour)
		runOnce(t, db, clk, "a", checks.Fail, finding("y", "p", "s"))
		mustUpdate(t, db, func(tx *Tx) error {
			n, err := tx.Prune()
			if err != nil || n != 2 {
				t.Errorf("pruned %d, %v; want 2", n, err)
			}
			fs, err := tx.Findings(FindingFilter{})
			if len(fs) != 1 || fs[0].Resource != "y" {
				t.Errorf("after pruning, findings = %+v; want only the open y (x was resolved too long ago)", fs)
			}
			return err
		})
		if runs, indexed := count(t, db); runs != 1 || indexed != 1 {
			t.Errorf("kept %d receipts (%d indexed), want 1", runs, indexed)
		}
		checkIndexes(t, db)
	})
}

func TestFindingsFilter(t *testing.T) {
	db, clk := openTest(t, Options{})
	low := finding("r/low", "p", "s")
	low.Severity = checks.Low
	runOnce(t, db, clk, "a", checks.Fail, finding("r/high", "p", "s"), low, finding("r/gone", "p", "s"))
	runOnce(t, db, clk, "a", checks.Fail, finding("r/high", "p", "s"), low)
	runOnce(t, db, clk, "b", checks.Fail, finding("r/b", "p", "s"))
	tests := []struct {
		name   string
		filter FindingFilter
		want   []string
	}{
		{"all, most severe first", FindingFilter{}, []string{"r/b", "r/gone", "r/high", "r/low"}},
		{"severity", FindingFilter{Severity: checks.Medium}, []string{"r/b", "r/gone", "r/high"}},
		{"item", FindingFilter{Item: "a"}, []string{"r/gone", "r/high", "r/low"}},
		{"state new", FindingFilter{States: []FindingState{FindingNew}}, []string{"r/b"}},
		{"states", FindingFilter{States: []FindingState{FindingResolved, FindingUnchanged}}, []string{"r/gone", "r/high", "r/low"}},
		{"item and state", FindingFilter{Item: "a", States: []FindingState{FindingResolved}}, []string{"r/gone"}},
		{"check", FindingFilter{Check: "other.check"}, nil},
		{"since the second run", FindingFilter{Since: clk.Now().Add(-time.Minute)}, []string{"r/b", "r/gone", "r/high", "r/low"}},
		{"since the third run", FindingFilter{Since: clk.Now()}, []string{"r/b"}},
		{"since later", FindingFilter{Since: clk.Now().Add(time.Second)}, nil},
	}
	mustView(t, db, func(tx *Tx) error {
		for _, tt := range tests {
			fs, err := tx.Findings(tt.filter)
			if err != nil {
				return err
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.Resource)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			}
		}
		return nil
	})
}

func testPlan(id, item string, created time.Time) tasks.PlanRecord {
	plan := checks.Plan{Task: "test.scale", Params: checks.NewParams(map[string]string{"replicas": "3"}), Target: "thing/a", Observed: map[string]string{"replicas": "1"}, Change: "replicas 1 → 3", Risk: checks.RiskLow}
	return tasks.PlanRecord{ID: id, Item: item, Source: "HB.md:3", Plan: plan, State: tasks.PlanPending, CreatedAt: created, ExpiresAt: created.Add(time.Hour), UpdatedAt: created, Digest: "test-digest"}
}

func TestPlans(t *testing.T) {
	db, clk := openTest(t, Options{})
	created := clk.Now()
	restart := testPlan("p-3", "", created.Add(2*time.Second))
	restart.Task = "test.restart"
	mustUpdate(t, db, func(tx *Tx) error {
		if err := tx.PutPlan(tasks.PlanRecord{State: tasks.PlanPending}); err == nil {
			t.Error("a plan without an id was stored")
		}
		return errors.Join(
			tx.PutPlan(testPlan("p-1", "item", created)),
			tx.PutPlan(testPlan("p-2", "", created.Add(time.Second))),
			tx.PutPlan(restart),
		)
	})
	plans := func(t *testing.T, f tasks.PlanFilter) []string {
		t.Helper()
		var ids []string
		mustView(t, db, func(tx *Tx) error {
			ps, err := tx.Plans(f)
			for _, p := range ps {
				ids = append(ids, p.ID)
			}
			return err
		})
		return ids
	}
	pendingFor := func(t *testing.T, item string) (string, bool) {
		t.Helper()
		var p tasks.PlanRecord
		var ok bool
		mustView(t, db, func(tx *Tx) error {
			var err error
			p, ok, err = tx.PendingPlanFor(item)
			return err
		})
		return p.ID, ok
	}

	mustView(t, db, func(tx *Tx) error {
		p, err := tx.Plan("p-1")
		if err != nil || p.Item != "item" || p.Digest != "test-digest" || p.Params.Get("replicas") != "3" {
			t.Errorf("Plan(p-1) = %+v, %v", p, err)
		}
		_, err = tx.Plan("p-404")
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "p-404") {
			t.Errorf("missing plan error = %v, want ErrNotFound naming the id", err)
		}
		return nil
	})
	if id, ok := pendingFor(t, "item"); !ok || id != "p-1" {
		t.Errorf("PendingPlanFor(item) = %q %v, want p-1", id, ok)
	}
	if _, ok := pendingFor(t, "nothing"); ok {
		t.Error("an item without plans has a pending plan")
	}
	for _, tt := range []struct {
		name   string
		filter tasks.PlanFilter
		want   []string
	}{
		{"all, newest first", tasks.PlanFilter{}, []string{"p-3", "p-2", "p-1"}},
		{"task", tasks.PlanFilter{Task: "test.scale"}, []string{"p-2", "p-1"}},
		{"pending", tasks.PlanFilter{States: []tasks.PlanState{tasks.PlanPending}}, []string{"p-3", "p-2", "p-1"}},
		{"approved", tasks.PlanFilter{States: []tasks.PlanState{tasks.PlanApproved}}, nil},
	} {
		if got := plans(t, tt.filter); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}

	// Updating a plan out of pending clears the item's pending index.
	mustUpdate(t, db, func(tx *Tx) error {
		p, err := tx.Plan("p-1")
		if err != nil {
			return err
		}
		p.State, p.DecidedBy, p.Reason = tasks.PlanRejected, "alice", "not now"
		return tx.PutPlan(p)
	})
	if id, ok := pendingFor(t, "item"); ok || id != "" {
		t.Errorf("after rejection PendingPlanFor(item) = %q %v", id, ok)
	}
	mustView(t, db, func(tx *Tx) error {
		p, err := tx.Plan("p-1")
		if p.State != tasks.PlanRejected || p.DecidedBy != "alice" {
			t.Errorf("update not stored: %+v", p)
		}
		return err
	})
	if got := plans(t, tasks.PlanFilter{States: []tasks.PlanState{tasks.PlanRejected}}); !slices.Equal(got, []string{"p-1"}) {
		t.Errorf("rejected: %v", got)
	}

	// Expiry follows from ExpiresAt and the clock; nothing is written.
	clk.Advance(time.Minute)
	mustUpdate(t, db, func(tx *Tx) error { return tx.PutPlan(testPlan("p-4", "item", clk.Now())) })
	clk.Advance(2 * time.Hour)
	if _, ok := pendingFor(t, "item"); ok {
		t.Error("an expired plan is still pending for its item")
	}
	if got := plans(t, tasks.PlanFilter{States: []tasks.PlanState{tasks.PlanExpired}}); !slices.Equal(got, []string{"p-4", "p-3", "p-2"}) {
		t.Errorf("expired by time: %v", got)
	}
	if got := plans(t, tasks.PlanFilter{States: []tasks.PlanState{tasks.PlanPending}}); got != nil {
		t.Errorf("still pending after expiry: %v", got)
	}
}

func appendAudit(t *testing.T, db *DB, n int) {
	t.Helper()
	err := db.Update(t.Context(), func(tx *Tx) error {
		for i := range n {
			if err := tx.Audit("me", "test.action", "s", map[string]string{"i": string(rune('a' + i))}); err != nil {
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
	err = db.View(t.Context(), func(tx *Tx) error {
		n, err = tx.VerifyAudit()
		return err
	})
	return n, err
}

// tamper edits the raw bbolt file, as someone outside clankerd could.
func tamper(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	raw, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// editAudit rewrites the audit record seq with edit, and recomputes its hash when
// rehash is set (a forger who knows the hash function).
func editAudit(seq uint64, rehash bool, edit func(r *AuditRecord)) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		var r AuditRecord
		if err := json.Unmarshal(b.Get(seqKey(seq)), &r); err != nil {
			return err
		}
		edit(&r)
		if rehash {
			r.Hash = auditHash(r)
		}
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return b.Put(seqKey(seq), data)
	}
}

func TestAuditChain(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(tx *bolt.Tx) error
		wantSeq uint64
	}{
		{"intact", nil, 0},
		{"edited record", editAudit(3, false, func(r *AuditRecord) { r.Actor = "mallory" }), 3},
		{"edited record with its hash recomputed", editAudit(3, true, func(r *AuditRecord) { r.Actor = "mallory" }), 4},
		{"edited bytes", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAudit)
			v := bytes.Replace(b.Get(seqKey(2)), []byte(`"actor":"me"`), []byte(`"actor":"mallory"`), 1)
			return b.Put(seqKey(2), v)
		}, 2},
		{"deleted first record", func(tx *bolt.Tx) error { return tx.Bucket(bucketAudit).Delete(seqKey(1)) }, 1},
		{"deleted middle record", func(tx *bolt.Tx) error { return tx.Bucket(bucketAudit).Delete(seqKey(2)) }, 2},
		{"deleted last record", func(tx *bolt.Tx) error { return tx.Bucket(bucketAudit).Delete(seqKey(5)) }, 5},
		{"garbage record", func(tx *bolt.Tx) error { return tx.Bucket(bucketAudit).Put(seqKey(4), []byte("{not json")) }, 4},
		{"forged record appended", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAudit)
			var last AuditRecord
			if err := json.Unmarshal(b.Get(seqKey(5)), &last); err != nil {
				return err
			}
			forged := AuditRecord{Seq: 6, Time: last.Time, AuditEntry: AuditEntry{Actor: "mallory", Action: "plan.approved"}, Prev: last.Hash}
			forged.Hash = auditHash(forged)
			data, _ := json.Marshal(forged)
			return b.Put(seqKey(6), data)
		}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := openTest(t, Options{})
			appendAudit(t, db, 5)
			path := db.Path()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
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

func TestAuditLog(t *testing.T) {
	db, clk := openTest(t, Options{})
	appendAudit(t, db, 5)
	mustView(t, db, func(tx *Tx) error {
		log, err := tx.AuditLog(AuditFilter{})
		if err != nil {
			return err
		}
		if len(log) != 5 || log[0].Prev != "" || !log[0].Time.Equal(clk.Now()) {
			t.Fatalf("log = %+v, want 5 records, the first with no Prev", log)
		}
		for i := 1; i < len(log); i++ {
			if log[i].Seq != uint64(i+1) || log[i].Prev != log[i-1].Hash || log[i].Hash != auditHash(log[i]) {
				t.Errorf("record %d does not link to %d: %+v", i+1, i, log[i])
			}
		}
		for _, tt := range []struct {
			filter AuditFilter
			want   []uint64
		}{
			{AuditFilter{Limit: 2}, []uint64{4, 5}},
			{AuditFilter{Limit: 10}, []uint64{1, 2, 3, 4, 5}},
			{AuditFilter{Since: 3}, []uint64{4, 5}},
			{AuditFilter{Since: 1, Limit: 10}, []uint64{2, 3, 4, 5}},
			{AuditFilter{Since: 3, Limit: 1}, []uint64{5}},
			{AuditFilter{Since: 5}, nil},
		} {
			recs, err := tx.AuditLog(tt.filter)
			if err != nil {
				return err
			}
			var got []uint64
			for _, r := range recs {
				got = append(got, r.Seq)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("AuditLog(%+v) = %v, want %v", tt.filter, got, tt.want)
			}
		}
		return nil
	})
	// The chain goes on after a reopen.
	path := db.Path()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	appendAudit(t, db2, 1)
	mustView(t, db2, func(tx *Tx) error {
		n, err := tx.VerifyAudit()
		if n != 6 {
			t.Errorf("after reopen the chain holds %d records, want 6", n)
		}
		return err
	})
}

func TestLockedFailsFast(t *testing.T) {
	db, _ := openTest(t, Options{})
	start := time.Now()
	_, err := Open(db.Path(), Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !errors.Is(err, bolterrors.ErrTimeout) {
		t.Fatalf("second open: %v, want ErrLocked wrapping bbolt's timeout", err)
	}
	for _, want := range []string{db.Path(), "in use by another process", "--state-dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second open took %s with a 100ms timeout", d)
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
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
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
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	if n, err := verify(t, path); n != 2 || err != nil {
		t.Errorf("after reopen: %d records, %v", n, err)
	}
}

func TestOpenCreatesEveryBucket(t *testing.T) {
	db, _ := openTest(t, Options{})
	path := db.Path()
	db.Close()
	raw, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	err = raw.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing after Open", name)
			}
		}
		if v, want := tx.Bucket(bucketMeta).Get(keySchema), fmt.Sprint(SchemaVersion); string(v) != want {
			t.Errorf("schema version = %q, want %s", v, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	db, _ := openTest(t, Options{})
	path := db.Path()
	db.Close()
	tamper(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) })
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "upgrade clankerd") {
		t.Errorf("opening a database with a newer schema: %v, want an error saying to upgrade", err)
	}
	// The failed Open released the file.
	tamper(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("1")) })
}

func TestMigrateFromSchema1(t *testing.T) {
	db, clk := openTest(t, Options{Retention: &Retention{MaxAge: time.Hour}})
	runOnce(t, db, clk, "a", checks.Fail, finding("x", "p", "s"), finding("y", "p", "s"))
	runOnce(t, db, clk, "a", checks.Fail, finding("y", "p", "s")) // x resolved
	path := db.Path()
	db.Close()
	// A version 1 file has no resolved-at index.
	tamper(t, path, func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketFindingsResolved); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("1"))
	})
	clk.Advance(2 * time.Hour)
	db, err := Open(path, Options{Now: clk.Now, Retention: &Retention{MaxAge: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mustUpdate(t, db, func(tx *Tx) error {
		if v := string(tx.bucket(bucketMeta).Get(keySchema)); v != fmt.Sprint(SchemaVersion) {
			t.Errorf("schema after migration = %q", v)
		}
		if _, err := tx.Prune(); err != nil {
			return err
		}
		fs, err := tx.Findings(FindingFilter{})
		if len(fs) != 1 || fs[0].Resource != "y" {
			t.Errorf("after migration and pruning, findings = %+v; want only the open y", fs)
		}
		return err
	})
	checkIndexes(t, db)
}

func TestCorruptRecordNamed(t *testing.T) {
	db, clk := openTest(t, Options{})
	runOnce(t, db, clk, "a", checks.Pass)
	r, _ := runOnce(t, db, clk, "a", checks.Pass)
	path := db.Path()
	db.Close()
	tamper(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketRuns).Put(seqKey(r.Seq), []byte("{")) })
	db, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.View(t.Context(), func(tx *Tx) error {
		_, err := tx.Runs(RunFilter{Item: "a"})
		return err
	})
	want := fmt.Sprintf("runs/%d in %s", r.Seq, path)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "backup") {
		t.Errorf("reading a corrupt receipt: %v, want an error naming %q and what to do", err, want)
	}
}

func TestBackup(t *testing.T) {
	db, clk := openTest(t, Options{})
	runOnce(t, db, clk, "a", checks.Fail, finding("x", "p", "s"))
	appendAudit(t, db, 3)
	var buf bytes.Buffer
	n, err := db.Backup(&buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("Backup = %d, %v; wrote %d bytes", n, err, buf.Len())
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	copyDB, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { copyDB.Close() })
	if got := statesOf(t, copyDB, "a"); got["x"] != FindingNew {
		t.Errorf("findings in the backup = %v", got)
	}
	mustView(t, copyDB, func(tx *Tx) error {
		n, err := tx.VerifyAudit()
		if n != 3 {
			t.Errorf("backup holds %d audit records, want 3", n)
		}
		return err
	})
}

func TestContextCancelled(t *testing.T) {
	db, _ := openTest(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	fn := func(*Tx) error { called = true; return nil }
	if err := db.Update(ctx, fn); !errors.Is(err, context.Canceled) || called {
		t.Errorf("Update with a cancelled context: %v, fn called %v", err, called)
	}
	if err := db.View(ctx, fn); !errors.Is(err, context.Canceled) || called {
		t.Errorf("View with a cancelled context: %v, fn called %v", err, called)
	}
}

func TestManualRunsDoNotMoveTheSchedule(t *testing.T) {
	db, clk := openTest(t, Options{})
	tick := clk.Now()
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.AddReceipt(Receipt{Item: "a", Check: "c.x", Pos: "HB.md:1", Trigger: TriggerSchedule, Scheduled: tick, Started: tick, Ended: tick, Status: checks.Skipped, Error: "outside active hours"})
		return err
	})
	runOnce(t, db, clk, "a", checks.Pass) // manual, a minute later
	mustView(t, db, func(tx *Tx) error {
		st, _, err := tx.ItemState("a")
		if !st.LastScheduled.Equal(tick) || st.LastStatus != checks.Pass {
			t.Errorf("state = %+v, want LastScheduled %s", st, tick)
		}
		return err
	})
}

// TestEndRunReturnsEveryFinding: ending a run returns each finding of the run with its
// state, the severity a changed one had before and the mute that silences it, so no
// caller has to rebuild what the store knew.
func TestEndRunReturnsEveryFinding(t *testing.T) {
	db, clk := openTest(t, Options{})
	a, b, c := finding("a", "down", "s"), finding("b", "down", "s"), finding("c", "down", "s")
	endRun(t, db, clk, "item1", checks.Fail, a, b, c)
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.AddMute(Mute{Check: "test.check", Resource: "b", Owner: "ann", Reason: "known", ExpiresAt: clk.Now().Add(time.Hour)})
		return err
	})
	worse := a
	worse.Severity = checks.Critical
	res := endRun(t, db, clk, "item1", checks.Fail, b, worse, b)
	var got []string
	for _, f := range res.Findings {
		got = append(got, fmt.Sprintf("%s:%s:%s<-%s muted=%t worse=%t", f.Resource, f.State, f.Severity, f.PrevSeverity, f.MutedBy != "", f.Worse()))
	}
	want := []string{
		"b:unchanged:high<- muted=true worse=false",
		"a:changed:critical<-high muted=false worse=true",
		"c:resolved:high<- muted=false worse=false",
	}
	if !slices.Equal(got, want) {
		t.Errorf("EndRun findings:\n got %q\nwant %q", got, want)
	}
	if res.Receipt.Findings != (FindingCounts{Unchanged: 1, Changed: 1, Resolved: 1}) {
		t.Errorf("counts = %+v", res.Receipt.Findings)
	}
}
