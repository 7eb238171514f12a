package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
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
	n := 0
	f.svc = &tasks.Service{Store: db, Tasks: lookup, Key: testKey, Now: now, NewID: func() string { n++; return fmt.Sprintf("p-%d", n) }}
	f.planner = &tasks.Planner{Tasks: lookup, Expiry: time.Hour}
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
	got, err := f.svc.Approve(t.Context(), p.ID, p.Digest, "alice")
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
	if _, err := f.svc.Approve(t.Context(), p.ID, p.Digest, "alice"); !errors.Is(err, tasks.ErrNotPending) {
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
	got, err := f.svc.Approve(t.Context(), p.ID, p.Digest, "alice")
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
	if _, err := f.svc.Approve(t.Context(), p.ID, p.Digest, "alice"); !errors.Is(err, tasks.ErrStale) {
		t.Errorf("approve after the target is gone: %v", err)
	}
}

func TestExpiredPlanIsRefused(t *testing.T) {
	f := newFixture(t)
	p, _ := f.queue(t, "item", 5)
	f.advance(time.Hour)
	got, err := f.svc.Approve(t.Context(), p.ID, p.Digest, "alice")
	if !errors.Is(err, tasks.ErrExpired) || got.State != tasks.PlanExpired {
		t.Fatalf("approve after expiry: %v, state %s", err, got.State)
	}
	if f.task.applies.Load() != 0 {
		t.Error("an expired plan was applied")
	}
	if got := f.auditActions(t, p.ID); !equal(got, []string{"plan.created/scheduler", "plan.expired/alice"}) {
		t.Errorf("audit = %v", got)
	}
	if _, err := f.svc.Approve(t.Context(), p.ID, p.Digest, "alice"); !errors.Is(err, tasks.ErrExpired) {
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
			_, err := f.svc.Approve(context.Background(), p.ID, p.Digest, fmt.Sprintf("user%d", i))
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
	if _, err := f.svc.Approve(t.Context(), p.ID, p.Digest, "alice"); !errors.Is(err, tasks.ErrNotPending) {
		t.Errorf("approve after reject: %v", err)
	}
	if _, created := f.queue(t, "item", 5); !created {
		t.Error("a rejected plan blocks its item")
	}
	if _, err := f.svc.Approve(t.Context(), "p-404", "", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("approve of an unknown plan: %v", err)
	}
}

// testKey signs the fixture's plans.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// editPlan changes a stored plan the way someone editing the database would.
func (f *fixture) editPlan(t *testing.T, id string, edit func(*tasks.PlanRecord)) {
	t.Helper()
	err := f.db.Update(t.Context(), func(tx *store.Tx) error {
		rec, err := tx.Plan(id)
		if err != nil {
			return err
		}
		edit(&rec)
		return tx.PutPlan(rec)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTamperedPlanIsRefused(t *testing.T) {
	tests := []struct {
		name string
		edit func(*tasks.PlanRecord)
		want string
	}{
		{"params", func(r *tasks.PlanRecord) { r.Params = checks.NewParams(map[string]string{"replicas": "500"}) }, "modified after it was created"},
		{"expiry", func(r *tasks.PlanRecord) { r.ExpiresAt = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC) }, "modified after it was created"},
		{"risk reasons", func(r *tasks.PlanRecord) { r.RiskReasons = nil }, "modified after it was created"},
		{"digest made with another key", func(r *tasks.PlanRecord) {
			r.Params = checks.NewParams(map[string]string{"replicas": "500"})
			r.Digest = tasks.PlanDigest([]byte("not the key"), *r)
		}, "modified after it was created"},
		{"unkeyed digest, as before plans were signed", func(r *tasks.PlanRecord) {
			r.Digest = strings.Repeat("ab", 32)
		}, "queued before clankerd signed plans"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p, _ := f.queue(t, "item", 5)
			var reviewed string
			f.editPlan(t, p.ID, func(r *tasks.PlanRecord) { tt.edit(r); reviewed = r.Digest })
			_, err := f.svc.Approve(t.Context(), p.ID, reviewed, "alice")
			if !errors.Is(err, tasks.ErrTampered) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("approve of a modified plan: %v", err)
			}
			if f.task.applies.Load() != 0 {
				t.Error("a modified plan was applied")
			}
		})
	}
}

func TestApproveRefusesAnotherPlanThanReviewed(t *testing.T) {
	f := newFixture(t)
	p, _ := f.queue(t, "item", 5)
	for _, reviewed := range []string{"", tasks.PlanDigest(testKey, tasks.PlanRecord{ID: p.ID})} {
		if _, err := f.svc.Approve(t.Context(), p.ID, reviewed, "alice"); !errors.Is(err, tasks.ErrChanged) {
			t.Errorf("approve having reviewed %q: %v", reviewed, err)
		}
	}
	if f.task.applies.Load() != 0 {
		t.Error("a plan nobody reviewed was applied")
	}
	if got, err := f.svc.Approve(t.Context(), p.ID, p.Digest, "alice"); err != nil || got.State != tasks.PlanApplied {
		t.Errorf("approve of the reviewed plan: %v, %+v", err, got)
	}
}

func TestQueueAssignsIdentityAndNeverReplaces(t *testing.T) {
	f := newFixture(t)
	draft, err := f.planner.Draft(t.Context(), tasks.Request{Task: "test.scale", Params: checks.NewParams(map[string]string{"replicas": "5"}), Source: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	draft.Expiry = 10 * time.Minute
	a, createdA, errA := f.svc.Queue(t.Context(), draft, "alice")
	b, createdB, errB := f.svc.Queue(t.Context(), draft, "alice")
	if errA != nil || errB != nil || !createdA || !createdB || a.ID == b.ID {
		t.Fatalf("two queues of one draft: %s %v %v, %s %v %v", a.ID, createdA, errA, b.ID, createdB, errB)
	}
	now := time.Unix(0, f.now.Load()).UTC()
	if a.State != tasks.PlanPending || !a.CreatedAt.Equal(now) || !a.ExpiresAt.Equal(now.Add(10*time.Minute)) || a.Digest != tasks.PlanDigest(testKey, a) {
		t.Errorf("queued plan = %+v", a)
	}

	// An id generator that repeats itself cannot make a queue replace a plan.
	f.svc.NewID = func() string { return a.ID }
	draft.Params = checks.NewParams(map[string]string{"replicas": "500"})
	if _, _, err := f.svc.Queue(t.Context(), draft, "mallory"); !errors.Is(err, tasks.ErrPlanExists) {
		t.Errorf("queue onto an existing id: %v", err)
	}
	_ = f.db.View(t.Context(), func(tx *store.Tx) error {
		got, err := tx.Plan(a.ID)
		if err != nil || got.Params.Get("replicas") != "5" || got.Digest != a.Digest {
			t.Errorf("plan %s after the refused queue: %+v, %v", a.ID, got, err)
		}
		return nil
	})
}

func TestPlanDigest(t *testing.T) {
	created := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	cost := 12.5
	base := tasks.PlanRecord{
		ID: "p-1", Item: "item", Source: "HB.md:3", CreatedAt: created, ExpiresAt: created.Add(time.Hour),
		Plan: checks.Plan{
			Task: "test.scale", Params: checks.NewParams(map[string]string{"replicas": "3"}), Target: "thing/a",
			Observed: map[string]string{"replicas": "1", "generation": "4"}, Change: "replicas 1 → 3",
			Risk: checks.RiskMedium, RiskReasons: []string{"prod"}, MonthlyCostChangeUSD: &cost,
		},
	}
	more := 13.0
	tests := []struct {
		name    string
		edit    func(p *tasks.PlanRecord)
		changes bool
	}{
		{"id", func(p *tasks.PlanRecord) { p.ID = "p-2" }, true},
		{"item", func(p *tasks.PlanRecord) { p.Item = "other" }, true},
		{"source", func(p *tasks.PlanRecord) { p.Source = "mcp" }, true},
		{"task", func(p *tasks.PlanRecord) { p.Task = "test.other" }, true},
		{"param value", func(p *tasks.PlanRecord) { p.Params = checks.NewParams(map[string]string{"replicas": "4"}) }, true},
		{"param added", func(p *tasks.PlanRecord) {
			p.Params = checks.NewParams(map[string]string{"replicas": "3", "namespace": "prod"})
		}, true},
		{"target", func(p *tasks.PlanRecord) { p.Target = "thing/b" }, true},
		{"observed", func(p *tasks.PlanRecord) { p.Observed = map[string]string{"replicas": "2", "generation": "4"} }, true},
		{"change", func(p *tasks.PlanRecord) { p.Change = "replicas 1 → 4" }, true},
		{"risk", func(p *tasks.PlanRecord) { p.Risk = checks.RiskLow }, true},
		{"risk reasons", func(p *tasks.PlanRecord) { p.RiskReasons = nil }, true},
		{"cost", func(p *tasks.PlanRecord) { p.MonthlyCostChangeUSD = &more }, true},
		{"cost unknown", func(p *tasks.PlanRecord) { p.MonthlyCostChangeUSD = nil }, true},
		{"cost note", func(p *tasks.PlanRecord) { p.CostNote = "unknown" }, true},
		{"preconditions", func(p *tasks.PlanRecord) { p.Preconditions = []string{"none"} }, true},
		{"utilization", func(p *tasks.PlanRecord) { p.Utilization = "CPU 90% of requests" }, true},
		{"dependency added", func(p *tasks.PlanRecord) {
			p.Dependencies = []checks.Dependency{{Resource: "service/prod/a", Relation: "selects its pods"}}
		}, true},
		{"expiry", func(p *tasks.PlanRecord) { p.ExpiresAt = p.ExpiresAt.Add(time.Second) }, true},
		{"created", func(p *tasks.PlanRecord) { p.CreatedAt = p.CreatedAt.Add(time.Second) }, true},
		{"state and decision", func(p *tasks.PlanRecord) {
			p.State, p.DecidedBy, p.UpdatedAt = tasks.PlanApplied, "alice", created.Add(time.Minute)
		}, false},
		{"expiry in another time zone", func(p *tasks.PlanRecord) { p.ExpiresAt = p.ExpiresAt.In(time.FixedZone("X", 3600)) }, false},
		{"observed copied in another order", func(p *tasks.PlanRecord) {
			p.Observed = map[string]string{}
			for k, v := range base.Observed {
				p.Observed[k] = v
			}
		}, false},
	}
	want := tasks.PlanDigest(testKey, base)
	// A plan signed before utilization and dependencies existed keeps its digest (this
	// value was computed by the digest of that time).
	if signed := "hmac-sha256:0a270c744bb0b566eb35f8550825dae442889b681a8535aeb53f92bfb6db0959"; want != signed {
		t.Errorf("the digest of a plan without the fields added later changed: %s, was %s", want, signed)
	}
	for _, tt := range tests {
		p := base
		tt.edit(&p)
		if changed := tasks.PlanDigest(testKey, p) != want; changed != tt.changes {
			t.Errorf("%s: digest changed = %v, want %v", tt.name, changed, tt.changes)
		}
	}
	if tasks.PlanDigest([]byte("another key"), base) == want {
		t.Error("the digest does not depend on the key")
	}
	if !strings.HasPrefix(want, "hmac-sha256:") || len(want) != len("hmac-sha256:")+64 {
		t.Errorf("digest %q is not a marked hex HMAC-SHA256", want)
	}
}

func TestApplyFailures(t *testing.T) {
	f := newFixture(t)
	f.task.fail = errors.New("quota exceeded")
	p, _ := f.queue(t, "a", 5)
	got, err := f.svc.Approve(t.Context(), p.ID, p.Digest, "alice")
	if !errors.Is(err, tasks.ErrApplyFailed) || got.State != tasks.PlanFailed || got.Error != "quota exceeded" {
		t.Errorf("failed apply: %v, %+v", err, got)
	}
	f.task.fail, f.task.panics = nil, true
	q, _ := f.queue(t, "b", 5)
	got, err = f.svc.Approve(t.Context(), q.ID, q.Digest, "alice")
	if !errors.Is(err, tasks.ErrApplyFailed) || got.State != tasks.PlanFailed {
		t.Errorf("panicking apply: %v, %+v", err, got)
	}
}

func TestRecoverInterruptedAndExpireDue(t *testing.T) {
	f := newFixture(t)
	applying, _ := f.queue(t, "a", 5)
	pending, _ := f.queue(t, "b", 5)
	err := f.db.Update(t.Context(), func(tx *store.Tx) error {
		// A process stopped mid-apply: approved and applying were recorded.
		rec, _ := tx.Plan(applying.ID)
		rec.State = tasks.PlanApplying
		return errors.Join(tx.PutPlan(rec), tx.Audit("alice", "plan.approved", rec.ID, nil), tx.Audit("alice", "plan.applying", rec.ID, nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.RecoverInterrupted(t.Context(), "daemon", time.Time{}); n != 1 || err != nil {
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

// TestApproveByRuleAuditsTheRule: an approval by policy is checked like any other (a
// digest that is not the plan's is refused) and every step's audit record names the
// rule.
func TestApproveByRuleAuditsTheRule(t *testing.T) {
	f := newFixture(t)
	p, _ := f.queue(t, "item", 5)
	if _, err := f.svc.ApproveByRule(t.Context(), p.ID, "", "policy:r (by alice)", "r"); !errors.Is(err, tasks.ErrChanged) {
		t.Errorf("approve by rule without the reviewed digest: %v", err)
	}
	if _, err := f.svc.ApproveByRule(t.Context(), p.ID, p.Digest, "alice", ""); err == nil {
		t.Error("an approval by policy without a rule was taken")
	}
	got, err := f.svc.ApproveByRule(t.Context(), p.ID, p.Digest, "policy:r (by alice)", "r")
	if err != nil || got.State != tasks.PlanApplied || got.DecidedBy != "policy:r (by alice)" {
		t.Fatalf("approve by rule: %v, %+v", err, got)
	}
	_ = f.db.View(t.Context(), func(tx *store.Tx) error {
		recs, err := tx.AuditLog(store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range recs {
			if r.Subject == p.ID && r.Action != "plan.created" {
				n++
				if r.Detail["rule"] != "r" || r.Actor != "policy:r (by alice)" {
					t.Errorf("%s: actor %q, rule %q", r.Action, r.Actor, r.Detail["rule"])
				}
			}
		}
		if n != 3 {
			t.Errorf("%d audit records of the approval, want 3 (approved, applying, applied)", n)
		}
		return nil
	})
}
