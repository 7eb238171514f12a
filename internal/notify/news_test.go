package notify

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/testenv/checktest"
	"github.com/clankerd/clankerd/tasks"
)

// newsDB opens a database whose runs and plans go through the news rules.
func newsDB(t *testing.T) (*store.DB, *checktest.Clock) {
	t.Helper()
	clk := checktest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{Now: clk.Now, News: News{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, clk
}

func update(t *testing.T, db *store.DB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := db.Update(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

// recordRun records one run of item a minute after the last.
func recordRun(t *testing.T, db *store.DB, clk *checktest.Clock, item string, status checks.Status, fs ...checks.Finding) {
	t.Helper()
	clk.Advance(time.Minute)
	update(t, db, func(tx *store.Tx) error {
		seq, err := tx.BeginRun(store.Receipt{Item: item, Check: "test.check", Pos: "HB.md:1", Trigger: store.TriggerManual, Scheduled: clk.Now(), Started: clk.Now()})
		if err != nil {
			return err
		}
		_, err = tx.EndRun(seq, store.RunEnd{Ended: clk.Now(), Status: status, Findings: fs})
		return err
	})
}

func newsFinding(resource, problem, summary string) checks.Finding {
	return checks.Finding{Resource: resource, Problem: problem, Severity: checks.High, Summary: summary, Evidence: map[string]string{"k": summary}}
}

// outboxLines returns the queued events as "kind erroring change:resource..." lines.
func outboxLines(t *testing.T, db *store.DB) []string {
	t.Helper()
	var out []string
	err := db.View(t.Context(), func(tx *store.Tx) error {
		evs, err := tx.Outbox(0)
		for _, ev := range evs {
			parts := []string{string(ev.Kind)}
			if ev.Erroring != "" {
				parts = append(parts, "erroring:"+ev.Erroring)
			}
			for _, f := range ev.Findings {
				parts = append(parts, string(f.Change)+":"+f.Resource)
			}
			if ev.Plan != nil {
				parts = append(parts, "plan:"+ev.Plan.ID)
			}
			out = append(out, strings.Join(parts, " "))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func clearOutbox(t *testing.T, db *store.DB) {
	t.Helper()
	update(t, db, func(tx *store.Tx) error {
		evs, err := tx.Outbox(0)
		for _, ev := range evs {
			err = errors.Join(err, tx.FinishEvent(ev.Seq))
		}
		return err
	})
}

func withSeverity(f checks.Finding, s checks.Severity) checks.Finding {
	f.Severity = s
	return f
}

func TestRunEvents(t *testing.T) {
	a, b := newsFinding("a", "down", "s"), newsFinding("b", "down", "s")
	type run struct {
		status checks.Status
		found  []checks.Finding
	}
	tests := []struct {
		name string
		runs []run
		// want is the event the last run queued ("" for none).
		want string
	}{
		{"new findings are grouped in one event", []run{{checks.Fail, []checks.Finding{a, b}}}, "run new:a new:b"},
		{"a pass with nothing is no news", []run{{checks.Pass, nil}}, ""},
		{"unchanged is no news", []run{{checks.Fail, []checks.Finding{a}}, {checks.Fail, []checks.Finding{a}}}, ""},
		{"severity rose", []run{{checks.Fail, []checks.Finding{a}}, {checks.Fail, []checks.Finding{withSeverity(a, checks.Critical)}}}, "run worse:a"},
		{"severity fell", []run{{checks.Fail, []checks.Finding{a}}, {checks.Fail, []checks.Finding{withSeverity(a, checks.Low)}}}, ""},
		{"summary changed", []run{{checks.Fail, []checks.Finding{a}}, {checks.Fail, []checks.Finding{newsFinding("a", "down", "other")}}}, ""},
		{"resolved", []run{{checks.Fail, []checks.Finding{a, b}}, {checks.Fail, []checks.Finding{a}}}, "run resolved:b"},
		{"starts erroring", []run{{checks.Pass, nil}, {checks.Error, nil}}, "run erroring:started"},
		{"first run errors", []run{{checks.Error, nil}}, "run erroring:started"},
		{"keeps erroring", []run{{checks.Error, nil}, {checks.Error, nil}}, ""},
		{"stops erroring", []run{{checks.Error, nil}, {checks.Pass, nil}}, "run erroring:stopped"},
		{"stops erroring with news", []run{{checks.Error, nil}, {checks.Fail, []checks.Finding{a}}}, "run erroring:stopped new:a"},
		{"an error run resolves nothing", []run{{checks.Fail, []checks.Finding{a}}, {checks.Error, nil}}, "run erroring:started"},
		{"skipped says nothing", []run{{checks.Error, nil}, {checks.Skipped, nil}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, clk := newsDB(t)
			for _, r := range tt.runs {
				clearOutbox(t, db)
				recordRun(t, db, clk, "item1", r.status, r.found...)
			}
			got := strings.Join(outboxLines(t, db), "|")
			if got != tt.want {
				t.Errorf("events = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInterruptedRunsAreNotNews(t *testing.T) {
	db, _ := newsDB(t)
	update(t, db, func(tx *store.Tx) error {
		_, err := tx.BeginRun(store.Receipt{Item: "item1", Check: "test.check", Pos: "HB.md:1"})
		return err
	})
	update(t, db, func(tx *store.Tx) error {
		n, err := tx.MarkInterrupted("interrupted")
		if n != 1 {
			t.Errorf("%d interrupted", n)
		}
		return err
	})
	if got := outboxLines(t, db); len(got) != 0 {
		t.Errorf("an interrupted run queued %v", got)
	}
}

func TestMutedNews(t *testing.T) {
	db, clk := newsDB(t)
	a, b := newsFinding("a", "down", "s"), newsFinding("b", "down", "s")
	update(t, db, func(tx *store.Tx) error {
		_, err := tx.AddMute(store.Mute{Check: "test.check", Resource: "a", Owner: "ann", Reason: "known", ExpiresAt: clk.Now().Add(time.Hour)})
		return err
	})
	steps := []struct {
		advance time.Duration
		found   []checks.Finding
		want    string
	}{
		{0, []checks.Finding{a, b}, "run new:b"},
		{0, []checks.Finding{withSeverity(a, checks.Critical), b}, ""},
		{0, []checks.Finding{withSeverity(a, checks.Critical), b}, ""},
		// The mute expires: a is still open, so it is news now, once.
		{time.Hour, []checks.Finding{withSeverity(a, checks.Critical), b}, "run unmuted:a"},
		{0, []checks.Finding{withSeverity(a, checks.Critical), b}, ""},
		{0, []checks.Finding{b}, "run resolved:a"},
	}
	for i, s := range steps {
		clearOutbox(t, db)
		clk.Advance(s.advance)
		recordRun(t, db, clk, "item1", checks.Fail, s.found...)
		if got := strings.Join(outboxLines(t, db), "|"); got != s.want {
			t.Errorf("step %d: events = %q, want %q", i, got, s.want)
		}
	}

	// Resolved while muted: nothing then, nothing after the mute ends.
	update(t, db, func(tx *store.Tx) error {
		_, err := tx.AddMute(store.Mute{Check: "test.check", Resource: "c", Owner: "ann", Reason: "known", ExpiresAt: clk.Now().Add(time.Hour)})
		return err
	})
	c := newsFinding("c", "down", "s")
	for i, s := range [][]checks.Finding{{b, c}, {b}} {
		clearOutbox(t, db)
		recordRun(t, db, clk, "item1", checks.Fail, s...)
		if got := outboxLines(t, db); len(got) != 0 {
			t.Errorf("muted step %d queued %v", i, got)
		}
	}
	clk.Advance(2 * time.Hour)
	clearOutbox(t, db)
	recordRun(t, db, clk, "item1", checks.Fail, b)
	if got := outboxLines(t, db); len(got) != 0 {
		t.Errorf("a finding resolved while muted was told after the mute: %v", got)
	}
}

func TestPlanEvents(t *testing.T) {
	db, clk := newsDB(t)
	now := clk.Now()
	plan := checks.Plan{Task: "test.scale", Params: checks.NewParams(map[string]string{"replicas": "3"}), Target: "thing/a", Observed: map[string]string{"replicas": "1"}, Change: "replicas 1 → 3", Risk: checks.RiskLow}
	p := tasks.PlanRecord{ID: "p-1", Item: "item1", Source: "HB.md:3", Plan: plan, State: tasks.PlanPending, CreatedAt: now, ExpiresAt: now.Add(time.Hour), UpdatedAt: now, Digest: "test-digest"}
	update(t, db, func(tx *store.Tx) error { return tx.PutPlan(p) })
	p.State = tasks.PlanRejected
	update(t, db, func(tx *store.Tx) error { return tx.PutPlan(p) })
	if got := outboxLines(t, db); !slices.Equal(got, []string{"plan plan:p-1"}) {
		t.Errorf("events = %v, want one for the new plan", got)
	}
}
