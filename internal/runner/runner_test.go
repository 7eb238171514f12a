package runner

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/scheduler"
	"github.com/clankerd/clankerd/tasks"
)

// funcCheck is a check whose behaviour the test sets.
type funcCheck struct {
	id  string
	run func(ctx context.Context, p checks.Params) (checks.Result, error)
}

func (c funcCheck) Spec() checks.Spec { return checks.Spec{ID: c.id} }
func (c funcCheck) Run(ctx context.Context, p checks.Params) (checks.Result, error) {
	return c.run(ctx, p)
}

type noopTask struct {
	plans atomic.Int32
	skip  string // Plan returns checks.Skip(skip) when set
}

func (*noopTask) Spec() checks.Spec { return checks.Spec{ID: "test.task"} }
func (t *noopTask) Plan(context.Context, checks.Params) (checks.Plan, error) {
	t.plans.Add(1)
	if t.skip != "" {
		return checks.Plan{}, checks.Skip(t.skip)
	}
	return checks.Plan{Target: "thing/x", Observed: map[string]string{"v": "1"}, Change: "v 1 → 2", Risk: checks.RiskLow}, nil
}
func (*noopTask) Apply(context.Context, checks.Plan) (checks.Applied, error) {
	return checks.Applied{}, errors.New("not in this test")
}

type env struct {
	runner *Runner
	local  *control.Local
	db     *store.DB
	reg    *checks.Registry
	task   *noopTask
}

func newEnv(t *testing.T, cs ...funcCheck) *env {
	t.Helper()
	reg := checks.NewRegistry()
	for _, c := range cs {
		if err := reg.AddCheck(c); err != nil {
			t.Fatal(err)
		}
	}
	task := &noopTask{}
	if err := reg.AddTask(task); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	local := &control.Local{DB: db, Tasks: &tasks.Service{Store: db, Tasks: reg, Key: []byte("test key")}}
	r := &Runner{Checks: reg, Planner: &tasks.Planner{Tasks: reg}, State: local, Actor: "test", Slack: 20 * time.Millisecond, Grace: 100 * time.Millisecond}
	return &env{runner: r, local: local, db: db, reg: reg, task: task}
}

func item(t *testing.T, id string, kind heartbeat.ItemKind, timeout string) heartbeat.Item {
	t.Helper()
	p := checks.NewParams(map[string]string{"timeout": timeout})
	return heartbeat.Item{Key: "key-" + id + timeout, File: "HB.md", Line: 3, Kind: kind, ID: id, Params: p}
}

func finding(resource string) checks.Finding {
	return checks.Finding{Resource: resource, Problem: "down", Severity: checks.High, Summary: resource + " is down"}
}

func TestStatuses(t *testing.T) {
	var findings atomic.Value
	findings.Store([]checks.Finding{finding("a")})
	e := newEnv(t,
		funcCheck{"t.pass", func(context.Context, checks.Params) (checks.Result, error) { return checks.Result{}, nil }},
		funcCheck{"t.info", func(context.Context, checks.Params) (checks.Result, error) {
			return checks.Result{Findings: []checks.Finding{{Resource: "lb/x", Problem: "public", Severity: checks.Info}}}, nil
		}},
		funcCheck{"t.fail", func(context.Context, checks.Params) (checks.Result, error) {
			return checks.Result{Findings: findings.Load().([]checks.Finding)}, nil
		}},
		funcCheck{"t.error", func(context.Context, checks.Params) (checks.Result, error) {
			return checks.Result{}, errors.New("credentials expired: run aws sso login")
		}},
		funcCheck{"t.skip", func(context.Context, checks.Params) (checks.Result, error) {
			return checks.Result{}, checks.Skip("no kubeconfig")
		}},
		funcCheck{"t.panic", func(context.Context, checks.Params) (checks.Result, error) { panic("nil map") }},
		funcCheck{"t.badfinding", func(context.Context, checks.Params) (checks.Result, error) {
			return checks.Result{Findings: []checks.Finding{{Resource: "x", Severity: checks.High}}}, nil
		}},
	)
	tests := []struct {
		id     string
		status checks.Status
		errHas string
	}{
		{"t.pass", checks.Pass, ""},
		{"t.info", checks.Pass, ""},
		{"t.fail", checks.Fail, ""},
		{"t.error", checks.Error, "credentials expired"},
		{"t.skip", checks.Skipped, "no kubeconfig"},
		{"t.panic", checks.Error, "panicked: nil map"},
		{"t.badfinding", checks.Error, "without resource, problem or valid severity"},
		{"t.unknown", checks.Error, `no check "t.unknown"`},
	}
	for _, tt := range tests {
		o := e.runner.RunItem(t.Context(), item(t, tt.id, heartbeat.ItemCheck, "1s"), Trigger{Kind: store.TriggerManual})
		if o.Err != nil {
			t.Fatalf("%s: %v", tt.id, o.Err)
		}
		if o.Receipt.Status != tt.status || !strings.Contains(o.Receipt.Error, tt.errHas) || o.Receipt.Seq == 0 || o.Receipt.Ended.IsZero() {
			t.Errorf("%s: receipt %+v, want %s with %q", tt.id, o.Receipt, tt.status, tt.errHas)
		}
	}

	// The error run of a check with open findings resolves nothing.
	fail := item(t, "t.fail", heartbeat.ItemCheck, "1s")
	o := e.runner.RunItem(t.Context(), fail, Trigger{Kind: store.TriggerManual})
	if len(o.Findings) != 1 || o.Findings[0].State != store.FindingUnchanged {
		t.Errorf("second run findings = %+v", o.Findings)
	}
	findings.Store([]checks.Finding(nil))
	o = e.runner.RunItem(t.Context(), fail, Trigger{Kind: store.TriggerManual})
	if len(o.Findings) != 1 || o.Findings[0].State != store.FindingResolved || o.Receipt.Findings.Resolved != 1 {
		t.Errorf("after the problem went away: %+v", o.Findings)
	}
}

func TestErrorRunResolvesNothing(t *testing.T) {
	var broken atomic.Bool
	e := newEnv(t, funcCheck{"t.flaky", func(context.Context, checks.Params) (checks.Result, error) {
		if broken.Load() {
			return checks.Result{}, errors.New("apiserver unreachable")
		}
		return checks.Result{Findings: []checks.Finding{finding("pod/a")}}, nil
	}})
	it := item(t, "t.flaky", heartbeat.ItemCheck, "1s")
	e.runner.RunItem(t.Context(), it, Trigger{Kind: store.TriggerManual})
	broken.Store(true)
	o := e.runner.RunItem(t.Context(), it, Trigger{Kind: store.TriggerManual})
	if o.Receipt.Status != checks.Error || len(o.Findings) != 0 {
		t.Fatalf("error run = %+v", o)
	}
	open, err := control.OpFindings.Do(t.Context(), e.local, store.FindingFilter{States: []store.FindingState{store.FindingNew}})
	if err != nil || len(open) != 1 {
		t.Errorf("after an error run: %d open findings, %v; want the one still open", len(open), err)
	}
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e := newEnv(t,
		funcCheck{"t.slow", func(ctx context.Context, _ checks.Params) (checks.Result, error) {
			<-ctx.Done()
			return checks.Result{}, ctx.Err()
		}},
		funcCheck{"t.stuck", func(context.Context, checks.Params) (checks.Result, error) {
			<-release // ignores its context
			return checks.Result{}, nil
		}},
	)
	for _, id := range []string{"t.slow", "t.stuck"} {
		start := time.Now()
		o := e.runner.RunItem(t.Context(), item(t, id, heartbeat.ItemCheck, "50ms"), Trigger{Kind: store.TriggerManual})
		if o.Receipt.Status != checks.Error || !strings.Contains(o.Receipt.Error, "timed out after 50ms") {
			t.Errorf("%s: %+v", id, o.Receipt)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %s", id, d)
		}
	}
	// Shutdown in the middle of a run: the run is recorded as error, not lost.
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(30*time.Millisecond, cancel)
	o := e.runner.RunItem(ctx, item(t, "t.slow", heartbeat.ItemCheck, "10s"), Trigger{Kind: store.TriggerManual})
	if o.Receipt.Status != checks.Error || !strings.Contains(o.Receipt.Error, "shutting down") || o.Err != nil {
		t.Errorf("cancelled run: %+v %v", o.Receipt, o.Err)
	}
}

func TestTaskItemQueuesOnePlan(t *testing.T) {
	e := newEnv(t)
	it := item(t, "test.task", heartbeat.ItemTask, "1s")
	first := e.runner.RunItem(t.Context(), it, Trigger{Kind: store.TriggerSchedule})
	second := e.runner.RunItem(t.Context(), it, Trigger{Kind: store.TriggerSchedule})
	if first.Plan == nil || !first.PlanCreated || first.Receipt.Plan != first.Plan.ID || first.Receipt.Status != checks.Pass {
		t.Fatalf("first = %+v", first)
	}
	if second.Plan == nil || second.PlanCreated || second.Plan.ID != first.Plan.ID {
		t.Errorf("second fire queued another plan: %+v", second.Plan)
	}
	plans, _ := control.OpPlans.Do(t.Context(), e.local, tasks.PlanFilter{})
	if len(plans) != 1 || plans[0].State != tasks.PlanPending || plans[0].Source != "HB.md:3" {
		t.Errorf("plans = %+v", plans)
	}
}

func TestTaskWithoutCredentialsIsSkipped(t *testing.T) {
	e := newEnv(t)
	e.task.skip = "no AWS credentials"
	o := e.runner.RunItem(t.Context(), item(t, "test.task", heartbeat.ItemTask, "1s"), Trigger{Kind: store.TriggerSchedule})
	if o.Receipt.Status != checks.Skipped || o.Receipt.Error != "no AWS credentials" || o.Plan != nil {
		t.Errorf("unconfigured provider: %+v", o.Receipt)
	}
}

func TestQuestionsAreNotRun(t *testing.T) {
	e := newEnv(t)
	o := e.runner.RunItem(t.Context(), heartbeat.Item{Key: "q", File: "HB.md", Line: 2, Kind: heartbeat.ItemQuestion, Text: "is it up?"}, Trigger{Kind: store.TriggerManual})
	if o.Receipt.Status != checks.Skipped || !strings.Contains(o.Receipt.Error, "not routed yet") {
		t.Errorf("question = %+v", o.Receipt)
	}
	if runs, _ := control.OpRuns.Do(t.Context(), e.local, store.RunFilter{}); len(runs) != 0 {
		t.Errorf("a question left %d receipts", len(runs))
	}
}

func TestDispatchRecordsSkippedTicks(t *testing.T) {
	e := newEnv(t, funcCheck{"t.pass", func(context.Context, checks.Params) (checks.Result, error) { return checks.Result{}, nil }})
	it := item(t, "t.pass", heartbeat.ItemCheck, "1s")
	at := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	e.runner.Dispatch(t.Context(), scheduler.Tick{Job: scheduler.Job{Item: it}, Scheduled: at, Skip: "outside active hours"})
	e.runner.Dispatch(t.Context(), scheduler.Tick{Job: scheduler.Job{Item: it}, Scheduled: at.Add(time.Hour), CatchUp: true, Missed: 4})
	runs, err := control.OpRuns.Do(t.Context(), e.local, store.RunFilter{Item: it.Key})
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs = %+v, %v", runs, err)
	}
	if r := runs[1]; r.Status != checks.Skipped || r.Error != "outside active hours" || !r.Scheduled.Equal(at) {
		t.Errorf("skipped tick = %+v", r)
	}
	if r := runs[0]; r.Status != checks.Pass || r.Trigger != store.TriggerCatchUp || r.Missed != 4 {
		t.Errorf("catch-up run = %+v", r)
	}
}

func TestRunAllSharesOneRead(t *testing.T) {
	var reads atomic.Int32
	fetch := func(context.Context) (int, error) {
		reads.Add(1)
		time.Sleep(10 * time.Millisecond)
		return 42, nil
	}
	check := func(ctx context.Context, _ checks.Params) (checks.Result, error) {
		v, err := checks.Memo(ctx, "pods", fetch)
		if err != nil || v != 42 {
			return checks.Result{}, errors.New("bad memo")
		}
		return checks.Result{}, nil
	}
	e := newEnv(t, funcCheck{"t.a", check}, funcCheck{"t.b", check}, funcCheck{"t.c", check})
	items := []heartbeat.Item{item(t, "t.a", heartbeat.ItemCheck, "1s"), item(t, "t.b", heartbeat.ItemCheck, "1s"), item(t, "t.c", heartbeat.ItemCheck, "1s")}
	out := e.runner.RunAll(t.Context(), items)
	for i, o := range out {
		if o.Item.ID != items[i].ID || o.Receipt.Status != checks.Pass {
			t.Errorf("outcome %d = %+v", i, o.Receipt)
		}
	}
	if reads.Load() != 1 {
		t.Errorf("%d reads for 3 checks in one round, want 1", reads.Load())
	}
}

// reachCheck records whether its run carried a destination policy.
type reachCheck struct{ reach atomic.Pointer[checks.Reach] }

func (*reachCheck) Spec() checks.Spec {
	return checks.Spec{ID: "t.reach", Params: []checks.ParamSpec{
		{Name: "contains", Type: checks.String, Agent: checks.AgentRefused},
		{Name: "profile", Type: checks.String, Agent: checks.AgentConfigured},
	}}
}
func (c *reachCheck) Run(ctx context.Context, _ checks.Params) (checks.Result, error) {
	c.reach.Store(checks.ReachFrom(ctx))
	return checks.Result{}, nil
}

// TestAgentItemsAreAdmitted: an agent's item runs under the runner's agent policy (its
// parameters admitted, its destinations in the context); an operator's item with the
// same parameters runs as written.
func TestAgentItemsAreAdmitted(t *testing.T) {
	e := newEnv(t)
	c := &reachCheck{}
	if err := e.reg.AddCheck(c); err != nil {
		t.Fatal(err)
	}
	e.runner.Tasks = e.reg
	e.runner.Agents = checks.AgentPolicy{Values: map[string][]string{"profile": {"readonly"}}}
	agentItem := func(id string, kind checks.Kind, raw map[string]string) heartbeat.Item {
		spec, _, _ := e.reg.Lookup(id)
		p, err := spec.Bind(raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		return heartbeat.NewItem(heartbeat.OriginAgent, heartbeat.Agent, id, kind, p, "")
	}
	tests := []struct {
		raw    map[string]string
		status checks.Status
		errHas string
	}{
		{map[string]string{}, checks.Pass, ""},
		{map[string]string{"profile": "readonly"}, checks.Pass, ""},
		{map[string]string{"profile": "admin"}, checks.Error, `add "admin" to agents.params.profile`},
		{map[string]string{"contains": "SecretAccessKey"}, checks.Error, "would reveal the content"},
	}
	for _, tt := range tests {
		c.reach.Store(nil)
		o := e.runner.RunItem(t.Context(), agentItem("t.reach", checks.KindCheck, tt.raw), Trigger{Kind: store.TriggerManual})
		if o.Receipt.Status != tt.status || !strings.Contains(o.Receipt.Error, tt.errHas) {
			t.Errorf("%v: receipt %s %q, want %s with %q", tt.raw, o.Receipt.Status, o.Receipt.Error, tt.status, tt.errHas)
		}
		if ran := c.reach.Load() != nil; ran != (tt.status == checks.Pass) {
			t.Errorf("%v: ran with a policy = %v", tt.raw, ran)
		}
	}
	operator := agentItem("t.reach", checks.KindCheck, map[string]string{"contains": "x", "profile": "admin"})
	operator.Trust = heartbeat.Operator
	c.reach.Store(&checks.Reach{})
	if o := e.runner.RunItem(t.Context(), operator, Trigger{Kind: store.TriggerManual}); o.Receipt.Status != checks.Pass || c.reach.Load() != nil {
		t.Errorf("operator item: %+v, policy %v", o.Receipt, c.reach.Load())
	}

	// A proposal goes through the same gate; an unknown id is refused, not waved on.
	if _, err := e.runner.Propose(t.Context(), agentItem("test.task", checks.KindTask, nil)); err != nil {
		t.Errorf("agent's proposal: %v", err)
	}
	unknown := heartbeat.NewItem(heartbeat.OriginAgent, heartbeat.Agent, "t.nothing", checks.KindTask, checks.NewParams(nil), "")
	if _, err := e.runner.Propose(t.Context(), unknown); !errors.Is(err, ErrUnknownSpec) {
		t.Errorf("unknown task: %v", err)
	}
}

// TestProposeReturnsThePendingPlan: the same change proposed twice while its plan is
// pending is that plan, from a question and from an agent alike; a preview drafts it
// and queues nothing.
func TestProposeReturnsThePendingPlan(t *testing.T) {
	e := newEnv(t)
	e.runner.Tasks = e.reg
	for _, origin := range []string{heartbeat.OriginAsk, heartbeat.OriginAgent} {
		it := heartbeat.NewItem(origin, heartbeat.Operator, "test.task", checks.KindTask, checks.NewParams(nil), "")
		draft, err := e.runner.Preview(t.Context(), it)
		if err != nil || draft.Change != "v 1 → 2" {
			t.Fatalf("%s preview: %+v, %v", origin, draft, err)
		}
		if ps, _ := control.OpPlans.Do(t.Context(), e.local, tasks.PlanFilter{Task: "test.task"}); len(ps) != 0 && origin == heartbeat.OriginAsk {
			t.Fatalf("a preview queued %d plan(s)", len(ps))
		}
		first, err := e.runner.Propose(t.Context(), it)
		if err != nil || !first.Created {
			t.Fatalf("%s first proposal: %+v, %v", origin, first, err)
		}
		again, err := e.runner.Propose(t.Context(), it)
		if err != nil || again.Created || again.Plan.ID != first.Plan.ID {
			t.Errorf("%s second proposal: %+v, %v; want plan %s again", origin, again, err, first.Plan.ID)
		}
	}
}

// fixTask is a write task that can aim at findings: fix=test.fix.
type fixTask struct{ noopTask }

func (*fixTask) Spec() checks.Spec {
	return checks.Spec{ID: "test.fix", Params: []checks.ParamSpec{{Name: "resource"}}}
}
func (*fixTask) FixParams(f checks.Finding) (map[string]string, bool) {
	return map[string]string{"resource": f.Resource}, true
}
func (*fixTask) Apply(context.Context, checks.Plan) (checks.Applied, error) {
	return checks.Applied{Summary: "fixed"}, nil
}

// approveAll approves every fix plan by the rule "all", through the approve op.
type approveAll struct {
	state   control.Backend
	offered []string
	refuse  bool
}

func (a *approveAll) ApproveFix(ctx context.Context, p tasks.PlanRecord) (tasks.PlanRecord, error) {
	a.offered = append(a.offered, p.ID)
	if a.refuse {
		return p, errors.New("no rule")
	}
	return control.OpApprove.Do(ctx, a.state, control.Decision{ID: p.ID, Digest: p.Digest, Policy: "all", Actor: "alice"})
}

// TestFixApprover: a fix plan queued anew is offered to the FixApprover, and the
// outcome shows it as it ended; a plan it refuses stays pending; a fix plan already
// pending is not offered again.
func TestFixApprover(t *testing.T) {
	e := newEnv(t, funcCheck{"t.fail", func(context.Context, checks.Params) (checks.Result, error) {
		return checks.Result{Findings: []checks.Finding{finding("a")}}, nil
	}})
	if err := e.reg.AddTask(&fixTask{}); err != nil {
		t.Fatal(err)
	}
	e.runner.Tasks = e.reg
	approver := &approveAll{state: e.local, refuse: true}
	e.runner.FixApprover = approver
	it := item(t, "t.fail", heartbeat.ItemCheck, "5s")
	it.Fix = "test.fix"
	o := e.runner.RunItem(t.Context(), it, Trigger{Kind: store.TriggerSchedule})
	if len(o.FixPlans) != 1 || o.FixPlans[0].State != tasks.PlanPending || len(approver.offered) != 1 {
		t.Fatalf("refused fix plan: %+v, offered %v", o.FixPlans, approver.offered)
	}
	approver.refuse = false
	if o := e.runner.RunItem(t.Context(), it, Trigger{Kind: store.TriggerSchedule}); len(o.FixPlans) != 0 || len(approver.offered) != 1 {
		t.Errorf("an unchanged finding's plan was offered again: %+v, offered %v", o.FixPlans, approver.offered)
	}

	it.Key = "key-another" // another item: its finding is new
	o = e.runner.RunItem(t.Context(), it, Trigger{Kind: store.TriggerSchedule})
	if len(o.FixPlans) != 1 || o.FixPlans[0].State != tasks.PlanApplied || o.FixPlans[0].DecidedBy != control.PolicyActor("all", "alice") {
		t.Fatalf("approved fix plan: %+v", o.FixPlans)
	}
}
