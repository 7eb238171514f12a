package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// counter is a live resource the test task changes: a replica count with a
// generation that moves on every write.
type counter struct {
	mu         sync.Mutex
	replicas   int
	generation int
	gone       bool
}

func (c *counter) read() (map[string]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return nil, false
	}
	return map[string]string{"replicas": strconv.Itoa(c.replicas), "generation": strconv.Itoa(c.generation)}, true
}

func (c *counter) set(replicas int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replicas, c.generation = replicas, c.generation+1
}

// scaleTask is the write task the machinery is tested with.
type scaleTask struct {
	res     *counter
	applies atomic.Int32
	fail    error
	panics  bool
}

var _ checks.Task = (*scaleTask)(nil)

func (s *scaleTask) Spec() checks.Spec {
	return checks.Spec{ID: "test.scale", Params: []checks.ParamSpec{{Name: "replicas", Type: checks.Int, Required: true}}}
}

func (s *scaleTask) Plan(_ context.Context, p checks.Params) (checks.Plan, error) {
	obs, ok := s.res.read()
	if !ok {
		return checks.Plan{}, errors.New("the counter is gone")
	}
	return checks.Plan{
		Target: "counter/test", Observed: obs,
		Change: fmt.Sprintf("replicas %s → %d", obs["replicas"], p.Int("replicas")),
		Risk:   checks.RiskLow, RiskReasons: []string{"test resource"},
	}, nil
}

func (s *scaleTask) Apply(_ context.Context, plan checks.Plan) (checks.Applied, error) {
	live, _ := s.res.read()
	if err := checks.CompareObserved(plan.Target, plan.Observed, live); err != nil {
		return checks.Applied{}, err
	}
	if s.panics {
		panic("broken task")
	}
	if s.fail != nil {
		return checks.Applied{}, s.fail
	}
	s.applies.Add(1)
	s.res.set(plan.Params.Int("replicas"))
	return checks.Applied{Summary: "scaled to " + plan.Params.Get("replicas")}, nil
}

type tasksByID map[string]checks.Task

func (m tasksByID) Task(id string) (checks.Task, bool) {
	t, ok := m[id]
	return t, ok
}

type fixture struct {
	db      *store.DB
	svc     *tasks.Service
	planner *tasks.Planner
	task    *scaleTask
	now     atomic.Int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{task: &scaleTask{res: &counter{replicas: 2}}}
	f.now.Store(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, f.now.Load()).UTC() }
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	lookup := tasksByID{"test.scale": f.task}
	f.db = db
	f.svc = &tasks.Service{Store: db, Tasks: lookup, Now: now}
	n := 0
	f.planner = &tasks.Planner{Tasks: lookup, Now: now, Expiry: time.Hour, NewID: func() string { n++; return fmt.Sprintf("p-%d", n) }}
	return f
}

func (f *fixture) advance(d time.Duration) { f.now.Add(int64(d)) }

func (f *fixture) queue(t *testing.T, item string, replicas int) (tasks.PlanRecord, bool) {
	t.Helper()
	draft, err := f.planner.Draft(t.Context(), tasks.Request{Task: "test.scale", Params: checks.NewParams(map[string]string{"replicas": strconv.Itoa(replicas)}), Item: item, Source: "HB.md:9"})
	if err != nil {
		t.Fatal(err)
	}
	p, created, err := f.svc.Queue(t.Context(), draft, "scheduler")
	if err != nil {
		t.Fatal(err)
	}
	return p, created
}

func (f *fixture) auditActions(t *testing.T, subject string) []string {
	t.Helper()
	var out []string
	err := f.db.View(t.Context(), func(tx *store.Tx) error {
		recs, err := tx.AuditLog(store.AuditFilter{})
		for _, r := range recs {
			if r.Subject == subject {
				out = append(out, r.Action+"/"+r.Actor)
			}
		}
		if _, verr := tx.VerifyAudit(); verr != nil {
			t.Errorf("audit chain: %v", verr)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equal(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestApproveApplies(t *testing.T) {
	f := newFixture(t)
	p, created := f.queue(t, "item", 5)
	if !created || p.State != tasks.PlanPending || p.Change != "replicas 2 → 5" || p.Observed["replicas"] != "2" || p.Digest == "" {
		t.Fatalf("queued plan = %+v", p)
	}
	if !p.ExpiresAt.Equal(p.CreatedAt.Add(time.Hour)) {
		t.Errorf("expiry %s, created %s", p.ExpiresAt, p.CreatedAt)
	}
	got, err := f.svc.Approve(t.Context(), p.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != tasks.PlanApplied || got.DecidedBy != "alice" || got.Result.Summary != "scaled to 5" {
		t.Errorf("approved plan = %+v", got)
	}
	if obs, _ := f.task.res.read(); obs["replicas"] != "5" {
		t.Errorf("live replicas = %s", obs["replicas"])
	}
	want := []string{"plan.created/scheduler", "plan.approved/alice", "plan.applying/alice", "plan.applied/alice"}
	if got := f.auditActions(t, p.ID); !equal(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
	if _, err := f.svc.Approve(t.Context(), p.ID, "alice"); !errors.Is(err, tasks.ErrNotPending) {
		t.Errorf("approving an applied plan: %v", err)
	}
}

func TestOnePendingPlanPerItem(t *testing.T) {
	f := newFixture(t)
	first, _ := f.queue(t, "item", 5)
	again, created := f.queue(t, "item", 5)
	if created || again.ID != first.ID {
		t.Errorf("second queue created %v (%s), want the pending %s", created, again.ID, first.ID)
	}
	if other, created := f.queue(t, "other-item", 5); !created || other.ID == first.ID {
		t.Error("another item could not queue its own plan")
	}
	f.advance(2 * time.Hour)
	if fresh, created := f.queue(t, "item", 5); !created || fresh.ID == first.ID {
		t.Error("an expired plan blocked a new one")
	}
}

func TestStalePlanIsRefused(t *testing.T) {
	f := newFixture(t)
	p, _ := f.queue(t, "item", 5)
	f.task.res.set(3) // someone scaled it by hand after the plan was made
	got, err := f.svc.Approve(t.Context(), p.ID, "alice")
	if !errors.Is(err, tasks.ErrStale) || !errors.Is(err, checks.ErrDrift) {
		t.Fatalf("approve of a drifted plan: %v", err)
	}
	if got.State != tasks.PlanStale || got.Error == "" {
		t.Errorf("plan = %+v", got)
	}
	if obs, _ := f.task.res.read(); obs["replicas"] != "3" || f.task.applies.Load() != 0 {
		t.Errorf("the stale plan changed something: %v, %d applies", obs, f.task.applies.Load())
	}
	want := []string{"plan.created/scheduler", "plan.approved/alice", "plan.applying/alice", "plan.stale/alice"}
	if got := f.auditActions(t, p.ID); !equal(got, want) {
		t.Errorf("audit = %v", got)
	}
	f.task.res.mu.Lock()
	f.task.res.gone = true
	f.task.res.mu.Unlock()
	if _, err := f.planner.Draft(t.Context(), tasks.Request{Task: "test.scale", Params: checks.NewParams(map[string]string{"replicas": "1"})}); err == nil {
		t.Error("planning a gone target succeeded")
	}
}

func TestGoneTargetIsStale(t *testing.T) {
	f := newFixture(t)
	p, _ := f.queue(t, "item", 5)
	f.task.res.mu.Lock()
	f.task.res.gone = true
	f.task.res.mu.Unlock()
	if _, err := f.svc.Approve(t.Context(), p.ID, "alice"); !errors.Is(err, tasks.ErrStale) {
		t.Errorf("approve after the target is gone: %v", err)
	}
}

func TestExpiredPlanIsRefused(t *testing.T) {
	f := newFixture(t)
	p, _ := f.queue(t, "item", 5)
	f.advance(time.Hour)
	got, err := f.svc.Approve(t.Context(), p.ID, "alice")
	if !errors.Is(err, tasks.ErrExpired) || got.State != tasks.PlanExpired {
		t.Fatalf("approve after expiry: %v, state %s", err, got.State)
	}
	if f.task.applies.Load() != 0 {
		t.Error("an expired plan was applied")
	}
	if got := f.auditActions(t, p.ID); !equal(got, []string{"plan.created/scheduler", "plan.expired/alice"}) {
		t.Errorf("audit = %v", got)
	}
	if _, err := f.svc.Approve(t.Context(), p.ID, "alice"); !errors.Is(err, tasks.ErrExpired) {
		t.Errorf("second approve: %v", err)
	}
}

func TestConcurrentApprovesApplyOnce(t *testing.T) {
	f := newFixture(t)
	p, _ := f.queue(t, "item", 7)
	var wg sync.WaitGroup
	var ok, notPending atomic.Int32
	for i := range 20 {
		wg.Go(func() {
			_, err := f.svc.Approve(context.Background(), p.ID, fmt.Sprintf("user%d", i))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, tasks.ErrNotPending):
				notPending.Add(1)
			default:
				t.Errorf("approve: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || notPending.Load() != 19 || f.task.applies.Load() != 1 {
		t.Errorf("%d succeeded, %d refused, %d applies; want 1, 19, 1", ok.Load(), notPending.Load(), f.task.applies.Load())
	}
}

func TestReject(t *testing.T) {
	f := newFixture(t)
	p, _ := f.queue(t, "item", 5)
	if _, err := f.svc.Reject(t.Context(), p.ID, "bob", ""); err == nil {
		t.Error("reject without a reason succeeded")
	}
	got, err := f.svc.Reject(t.Context(), p.ID, "bob", "not during the freeze")
	if err != nil || got.State != tasks.PlanRejected || got.Reason != "not during the freeze" || got.DecidedBy != "bob" {
		t.Fatalf("reject = %+v, %v", got, err)
	}
	if _, err := f.svc.Approve(t.Context(), p.ID, "alice"); !errors.Is(err, tasks.ErrNotPending) {
		t.Errorf("approve after reject: %v", err)
	}
	if _, created := f.queue(t, "item", 5); !created {
		t.Error("a rejected plan blocks its item")
	}
	if _, err := f.svc.Approve(t.Context(), "p-404", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("approve of an unknown plan: %v", err)
	}
}

func TestTamperedPlanIsRefused(t *testing.T) {
	f := newFixture(t)
	p, _ := f.queue(t, "item", 5)
	err := f.db.Update(t.Context(), func(tx *store.Tx) error {
		rec, err := tx.Plan(p.ID)
		if err != nil {
			return err
		}
		rec.Params = checks.NewParams(map[string]string{"replicas": "500"})
		return tx.PutPlan(rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(t.Context(), p.ID, "alice"); !errors.Is(err, tasks.ErrTampered) {
		t.Errorf("approve of a modified plan: %v", err)
	}
	if f.task.applies.Load() != 0 {
		t.Error("a modified plan was applied")
	}
}

func TestApplyFailures(t *testing.T) {
	f := newFixture(t)
	f.task.fail = errors.New("quota exceeded")
	p, _ := f.queue(t, "a", 5)
	got, err := f.svc.Approve(t.Context(), p.ID, "alice")
	if !errors.Is(err, tasks.ErrApplyFailed) || got.State != tasks.PlanFailed || got.Error != "quota exceeded" {
		t.Errorf("failed apply: %v, %+v", err, got)
	}
	f.task.fail, f.task.panics = nil, true
	q, _ := f.queue(t, "b", 5)
	got, err = f.svc.Approve(t.Context(), q.ID, "alice")
	if !errors.Is(err, tasks.ErrApplyFailed) || got.State != tasks.PlanFailed {
		t.Errorf("panicking apply: %v, %+v", err, got)
	}
}

func TestRecoverInterruptedAndExpireDue(t *testing.T) {
	f := newFixture(t)
	applying, _ := f.queue(t, "a", 5)
	pending, _ := f.queue(t, "b", 5)
	err := f.db.Update(t.Context(), func(tx *store.Tx) error {
		rec, _ := tx.Plan(applying.ID)
		rec.State = tasks.PlanApplying
		return tx.PutPlan(rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.RecoverInterrupted(t.Context(), "daemon"); n != 1 || err != nil {
		t.Errorf("RecoverInterrupted = %d, %v", n, err)
	}
	f.advance(90 * time.Minute)
	if n, err := f.svc.ExpireDue(t.Context(), "daemon"); n != 1 || err != nil {
		t.Errorf("ExpireDue = %d, %v", n, err)
	}
	_ = f.db.View(t.Context(), func(tx *store.Tx) error {
		a, _ := tx.Plan(applying.ID)
		b, _ := tx.Plan(pending.ID)
		if a.State != tasks.PlanFailed || b.State != tasks.PlanExpired {
			t.Errorf("states = %s, %s", a.State, b.State)
		}
		return nil
	})
	if got := f.auditActions(t, pending.ID); !equal(got, []string{"plan.created/scheduler", "plan.expired/daemon"}) {
		t.Errorf("audit = %v", got)
	}
}

func TestDraftUnknownTask(t *testing.T) {
	f := newFixture(t)
	if _, err := f.planner.Draft(t.Context(), tasks.Request{Task: "nope.task"}); err == nil {
		t.Error("drafting an unknown task succeeded")
	}
}
