package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/tasks"
)

// outbox returns the queued events as "kind erroring change:resource..." lines.
func outboxLines(t *testing.T, db *DB) []string {
	t.Helper()
	var out []string
	mustView(t, db, func(tx *Tx) error {
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
	return out
}

func clearOutbox(t *testing.T, db *DB) {
	t.Helper()
	mustUpdate(t, db, func(tx *Tx) error {
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
	a, b := finding("a", "down", "s"), finding("b", "down", "s")
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
		{"summary changed", []run{{checks.Fail, []checks.Finding{a}}, {checks.Fail, []checks.Finding{finding("a", "down", "other")}}}, ""},
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
			db, clk := openTest(t, Options{})
			for _, r := range tt.runs {
				clearOutbox(t, db)
				runOnce(t, db, clk, "item1", r.status, r.found...)
			}
			got := strings.Join(outboxLines(t, db), "|")
			if got != tt.want {
				t.Errorf("events = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInterruptedRunsAreNotNews(t *testing.T) {
	db, _ := openTest(t, Options{})
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.BeginRun(Receipt{Item: "item1", Check: "test.check", Pos: "HB.md:1"})
		return err
	})
	mustUpdate(t, db, func(tx *Tx) error {
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
	db, clk := openTest(t, Options{})
	a, b := finding("a", "down", "s"), finding("b", "down", "s")
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.AddMute(Mute{Check: "test.check", Resource: "a", Owner: "ann", Reason: "known", ExpiresAt: clk.Now().Add(time.Hour)})
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
		runOnce(t, db, clk, "item1", checks.Fail, s.found...)
		if got := strings.Join(outboxLines(t, db), "|"); got != s.want {
			t.Errorf("step %d: events = %q, want %q", i, got, s.want)
		}
	}

	// Resolved while muted: nothing then, nothing after the mute ends.
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.AddMute(Mute{Check: "test.check", Resource: "c", Owner: "ann", Reason: "known", ExpiresAt: clk.Now().Add(time.Hour)})
		return err
	})
	c := finding("c", "down", "s")
	for i, s := range [][]checks.Finding{{b, c}, {b}} {
		clearOutbox(t, db)
		runOnce(t, db, clk, "item1", checks.Fail, s...)
		if got := outboxLines(t, db); len(got) != 0 {
			t.Errorf("muted step %d queued %v", i, got)
		}
	}
	clk.Advance(2 * time.Hour)
	clearOutbox(t, db)
	runOnce(t, db, clk, "item1", checks.Fail, b)
	if got := outboxLines(t, db); len(got) != 0 {
		t.Errorf("a finding resolved while muted was told after the mute: %v", got)
	}
}

func TestPlanEvents(t *testing.T) {
	db, clk := openTest(t, Options{})
	p := testPlan("p-1", "item1", clk.Now())
	mustUpdate(t, db, func(tx *Tx) error { return tx.PutPlan(p) })
	p.State = tasks.PlanRejected
	mustUpdate(t, db, func(tx *Tx) error { return tx.PutPlan(p) })
	if got := outboxLines(t, db); !slices.Equal(got, []string{"plan plan:p-1"}) {
		t.Errorf("events = %v, want one for the new plan", got)
	}
}

func TestOutboxCommitsWithTheRun(t *testing.T) {
	db, clk := openTest(t, Options{})
	select {
	case <-db.OutboxSignal():
		t.Fatal("signal before anything was queued")
	default:
	}
	// A transaction that fails takes its event with it, and signals nothing.
	err := db.Update(t.Context(), func(tx *Tx) error {
		seq, err := tx.BeginRun(Receipt{Item: "item1", Check: "test.check", Pos: "HB.md:1"})
		if err != nil {
			return err
		}
		if _, _, err := tx.EndRun(seq, RunEnd{Status: checks.Fail, Findings: []checks.Finding{finding("a", "p", "s")}}); err != nil {
			return err
		}
		return errors.New("rolled back")
	})
	if err == nil {
		t.Fatal("the transaction did not fail")
	}
	select {
	case <-db.OutboxSignal():
		t.Error("a rolled-back transaction signalled the sender")
	default:
	}
	if got := outboxLines(t, db); len(got) != 0 {
		t.Errorf("a rolled-back run left %v", got)
	}
	runOnce(t, db, clk, "item1", checks.Fail, finding("a", "p", "s"))
	select {
	case <-db.OutboxSignal():
	default:
		t.Error("no signal after a run queued news")
	}
	mustView(t, db, func(tx *Tx) error {
		evs, err := tx.Outbox(0)
		if len(evs) != 1 || !strings.HasPrefix(evs[0].ID, "n-") || evs[0].Run == 0 || evs[0].Pos != "HB.md:1" || !evs[0].Created.Equal(clk.Now()) {
			t.Errorf("event = %+v", evs)
		}
		return err
	})
}

func TestDeliveries(t *testing.T) {
	db, clk := openTest(t, Options{})
	for i := range 3 {
		runOnce(t, db, clk, fmt.Sprint("item", i), checks.Fail, finding("a", "p", "s"))
	}
	var evs []OutboxEvent
	mustView(t, db, func(tx *Tx) error {
		var err error
		evs, err = tx.Outbox(2)
		if n := tx.OutboxDepth(); n != 3 {
			t.Errorf("depth = %d", n)
		}
		return err
	})
	if len(evs) != 2 || evs[0].Seq >= evs[1].Seq {
		t.Fatalf("Outbox(2) = %+v", evs)
	}
	seq := evs[0].Seq
	mustUpdate(t, db, func(tx *Tx) error {
		return errors.Join(
			tx.PutDelivery(seq, "hook", Delivery{Attempts: 1, LastError: "HTTP 503", NextAttempt: clk.Now().Add(time.Second)}),
			tx.PutDelivery(seq, "hook", Delivery{Attempts: 2, Outcome: Delivered, Done: clk.Now()}),
			tx.PutDelivery(seq, "slack", Delivery{Attempts: 1, LastError: "HTTP 404", Outcome: DeliveryFailed, Done: clk.Now()}),
		)
	})
	mustView(t, db, func(tx *Tx) error {
		ds, err := tx.Deliveries(seq)
		if len(ds) != 2 || ds["hook"].Outcome != Delivered || ds["slack"].Outcome != DeliveryFailed {
			t.Errorf("deliveries = %+v", ds)
		}
		other, err2 := tx.Deliveries(evs[1].Seq)
		if len(other) != 0 {
			t.Errorf("deliveries of another event = %+v", other)
		}
		sts, err3 := tx.TargetStates()
		want := []TargetState{
			{Name: "hook", Delivered: 1, LastDelivered: clk.Now(), LastError: "HTTP 503", LastErrorAt: clk.Now()},
			{Name: "slack", Failed: 1, LastError: "HTTP 404", LastErrorAt: clk.Now()},
		}
		if fmt.Sprint(sts) != fmt.Sprint(want) {
			t.Errorf("target states = %+v, want %+v", sts, want)
		}
		return errors.Join(err, err2, err3)
	})
	mustUpdate(t, db, func(tx *Tx) error { return tx.FinishEvent(seq) })
	mustView(t, db, func(tx *Tx) error {
		ds, err := tx.Deliveries(seq)
		if len(ds) != 0 || tx.OutboxDepth() != 2 {
			t.Errorf("after finish: deliveries %+v, depth %d", ds, tx.OutboxDepth())
		}
		return err
	})
	err := db.Update(t.Context(), func(tx *Tx) error { return tx.PutDelivery(seq, "hook", Delivery{}) })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("delivery of a finished event: %v", err)
	}
}
