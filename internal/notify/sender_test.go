package notify

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/testenv/checktest"
	"github.com/clankerd/clankerd/tasks"
)

// clock is a settable test clock shared by the store and the sender.
type clock = checktest.Clock

type env struct {
	db  *store.DB
	clk *clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := checktest.NewClock(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{Now: clk.Now, News: News{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &env{db: db, clk: clk}
}

func (e *env) sender(t *testing.T, policy Policy, dests ...Destination) *Sender {
	t.Helper()
	s, err := NewSender(SenderOptions{Store: e.db, Now: e.clk.Now, Config: Config{Policy: policy, Destinations: dests}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run records a run of item that finds the resources (high severity).
func (e *env) run(t *testing.T, item string, status checks.Status, resources ...string) {
	t.Helper()
	var fs []checks.Finding
	for _, r := range resources {
		fs = append(fs, checks.Finding{Resource: r, Problem: "down", Severity: checks.High, Summary: r + " is down"})
	}
	err := e.db.Update(t.Context(), func(tx *store.Tx) error {
		seq, err := tx.BeginRun(store.Receipt{Item: item, Check: "test.check", Pos: "HB.md:1", Started: e.clk.Now()})
		if err != nil {
			return err
		}
		_, err = tx.EndRun(seq, store.RunEnd{Status: status, Findings: fs})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) depth(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.db.View(t.Context(), func(tx *store.Tx) error { n = tx.OutboxDepth(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) targetState(t *testing.T, name string) store.TargetState {
	t.Helper()
	var out store.TargetState
	err := e.db.View(t.Context(), func(tx *store.Tx) error {
		sts, err := tx.TargetStates()
		for _, st := range sts {
			if st.Name == name {
				out = st
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func pass(t *testing.T, s *Sender) time.Time {
	t.Helper()
	next, err := s.DeliverDue(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return next
}

var fastPolicy = Policy{MaxAge: 24 * time.Hour, RetryInitial: 10 * time.Second, RetryMax: 5 * time.Minute, Timeout: 5 * time.Second}

func hook(name string, rcv *receiver, secret string) Destination {
	return Destination{Name: name, Type: "webhook", Target: &Webhook{URL: rcv.URL, Secret: []byte(secret)}}
}

func TestFailingReceiverGetsEachNotificationOnce(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, "k")
	s := e.sender(t, fastPolicy, hook("ops", rcv, "k"))
	for i := range 5 {
		e.run(t, fmt.Sprint("item", i), checks.Fail, fmt.Sprint("res", i))
	}
	// Down for the first 6 attempts: one attempt per pass while it is down (the
	// others wait behind it), backing off; then everything goes through.
	rcv.failNext(6)
	var waits []time.Duration
	for range 20 {
		next := pass(t, s)
		if next.IsZero() {
			break
		}
		waits = append(waits, next.Sub(e.clk.Now()))
		e.clk.Advance(next.Sub(e.clk.Now()))
	}
	accepted, _, attempts, problems := rcv.snapshot()
	if len(problems) > 0 {
		t.Errorf("receiver problems: %v", problems)
	}
	if len(accepted) != 5 {
		t.Errorf("accepted %d keys, want 5: %v", len(accepted), accepted)
	}
	for k, n := range accepted {
		if n != 1 {
			t.Errorf("key %s accepted %d times", k, n)
		}
	}
	if attempts != 11 {
		t.Errorf("%d attempts, want 6 failed + 5 delivered", attempts)
	}
	// Exponential backoff from 10s, capped at 5m.
	if got := fmt.Sprint(waits); got != "[10s 20s 40s 1m20s 2m40s 5m0s]" {
		t.Errorf("waits between passes = %s", got)
	}
	if d := e.depth(t); d != 0 {
		t.Errorf("outbox depth %d after delivery", d)
	}
	st := e.targetState(t, "ops")
	if st.Delivered != 5 || !strings.Contains(st.LastError, "HTTP 503") || st.LastDelivered.IsZero() {
		t.Errorf("target state = %+v", st)
	}
}

func TestGroupedPerRun(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, "")
	s := e.sender(t, fastPolicy, hook("ops", rcv, ""))
	e.run(t, "item1", checks.Fail, "a", "b", "c")
	e.run(t, "item1", checks.Fail, "a", "b", "c") // unchanged: no news
	e.run(t, "item1", checks.Fail, "a")           // two resolved
	pass(t, s)
	got := webhookPayloads(t, rcv)
	if len(got) != 2 {
		t.Fatalf("%d notifications, want 2 (one per run with news)", len(got))
	}
	var lines []string
	for _, p := range got {
		var fs []string
		for _, f := range p.Findings {
			fs = append(fs, string(f.Change)+":"+f.Resource)
		}
		lines = append(lines, strings.Join(fs, ","))
	}
	if want := "new:a,new:b,new:c|resolved:b,resolved:c"; strings.Join(lines, "|") != want {
		t.Errorf("notifications = %v, want %s", lines, want)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, "")
	d := hook("ops", rcv, "")
	d.RateLimit = RateLimit{N: 2, Per: time.Minute}
	s := e.sender(t, fastPolicy, d)
	for i := range 5 {
		e.run(t, fmt.Sprint("item", i), checks.Fail, "r")
	}
	count := func() int { a, _, _, _ := rcv.snapshot(); return len(a) }
	next := pass(t, s)
	if count() != 2 || next.Sub(e.clk.Now()) != 30*time.Second {
		t.Fatalf("first pass: %d sent, next in %s; want 2 and 30s", count(), next.Sub(e.clk.Now()))
	}
	e.clk.Advance(10 * time.Second)
	pass(t, s)
	if count() != 2 {
		t.Errorf("sent %d before a token was back", count())
	}
	e.clk.Advance(20 * time.Second)
	pass(t, s)
	if count() != 3 {
		t.Errorf("sent %d after 30s, want 3", count())
	}
	e.clk.Advance(time.Minute)
	pass(t, s)
	if count() != 5 || e.depth(t) != 0 {
		t.Errorf("after a minute more: %d sent, depth %d", count(), e.depth(t))
	}
}

func TestMinimumSeverityAndRouting(t *testing.T) {
	e := newEnv(t)
	all, critical, scoped := newReceiver(t, ""), newReceiver(t, ""), newReceiver(t, "")
	crit := hook("critical", critical, "")
	crit.MinSeverity = checks.Critical
	sc := hook("scoped", scoped, "")
	sc.Items = map[string]bool{"item2": true}
	s := e.sender(t, fastPolicy, hook("all", all, ""), crit, sc)
	e.run(t, "item1", checks.Fail, "a")
	e.run(t, "item2", checks.Fail, "b")
	// A fix plan of item2's finding belongs to item2.
	err := e.db.Update(t.Context(), func(tx *store.Tx) error {
		return tx.PutPlan(tasks.PlanRecord{ID: "p-1", Item: "item2/fix/fp", State: tasks.PlanPending, Plan: checks.Plan{Task: "t", Risk: checks.RiskHigh}})
	})
	if err != nil {
		t.Fatal(err)
	}
	pass(t, s)
	for _, tt := range []struct {
		name string
		rcv  *receiver
		want int
	}{{"all", all, 3}, {"critical", critical, 0}, {"scoped", scoped, 2}} {
		if a, _, _, _ := tt.rcv.snapshot(); len(a) != tt.want {
			t.Errorf("%s got %d notifications, want %d", tt.name, len(a), tt.want)
		}
	}
	if d := e.depth(t); d != 0 {
		t.Errorf("skipped deliveries left %d events in the outbox", d)
	}
}

func TestExpiryAndPermanentFailure(t *testing.T) {
	e := newEnv(t)
	down, gone := newReceiver(t, ""), newReceiver(t, "")
	down.failNext(1000)
	gone.failWith = 410
	gone.failNext(1000)
	s := e.sender(t, fastPolicy, hook("down", down, ""), hook("gone", gone, ""))
	e.run(t, "item1", checks.Fail, "a")
	pass(t, s)
	if _, _, n, _ := gone.snapshot(); n != 1 {
		t.Errorf("a permanent failure was tried %d times", n)
	}
	for range 400 {
		next := pass(t, s)
		if next.IsZero() {
			break
		}
		e.clk.Advance(next.Sub(e.clk.Now()))
	}
	if d := e.depth(t); d != 0 {
		t.Errorf("outbox depth %d after expiry", d)
	}
	if st := e.targetState(t, "down"); st.Failed != 1 || !strings.Contains(st.LastError, "not delivered within 24h0m0s") || !strings.Contains(st.LastError, "HTTP 503") {
		t.Errorf("down target = %+v", st)
	}
	if st := e.targetState(t, "gone"); st.Failed != 1 || !strings.Contains(st.LastError, "HTTP 410") {
		t.Errorf("gone target = %+v", st)
	}
	// Retries stopped growing at RetryMax: about 24h / 5m attempts, not thousands.
	if _, _, n, _ := down.snapshot(); n < 250 || n > 300 {
		t.Errorf("the down target was tried %d times in 24h", n)
	}
}

func TestRunDeliversWhenEventsAreQueued(t *testing.T) {
	clkDB, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{News: News{}})
	if err != nil {
		t.Fatal(err)
	}
	defer clkDB.Close()
	e := &env{db: clkDB, clk: checktest.NewClock(time.Now())}
	rcv := newReceiver(t, "")
	s, err := NewSender(SenderOptions{Store: clkDB, Config: Config{Policy: fastPolicy, Destinations: []Destination{hook("ops", rcv, "")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	e.run(t, "item1", checks.Fail, "a")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if a, _, _, _ := rcv.snapshot(); len(a) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the queued notification was not delivered within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBackoff(t *testing.T) {
	p := Policy{RetryInitial: time.Second, RetryMax: 10 * time.Second}
	var got []time.Duration
	for a := 1; a <= 6; a++ {
		got = append(got, backoff(p, a))
	}
	if fmt.Sprint(got) != "[1s 2s 4s 8s 10s 10s]" {
		t.Errorf("backoff = %v", got)
	}
}
