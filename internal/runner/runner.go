// Package runner runs heartbeat items: it executes a check under its timeout and a
// panic guard, or drafts the plan of a task item and queues it, and records a receipt
// and the findings of every run. `clankerd check` and the daemon share it.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/scheduler"
	"github.com/clankerd/clankerd/tasks"
)

// CheckLookup finds checks by id; *checks.Registry implements it.
type CheckLookup interface {
	Check(id string) (checks.Check, bool)
}

// TaskLookup finds write tasks by id, for fix= remediation; *checks.Registry
// implements it.
type TaskLookup interface {
	Task(id string) (checks.Task, bool)
}

// Drafter drafts the plan of a task item; *tasks.Planner implements it.
type Drafter interface {
	Draft(ctx context.Context, req tasks.Request) (tasks.Draft, error)
}

// FixApprover approves the fix= plans the operator's approvals policy lets through
// (the daemon's --approve-by-policy). It returns the plan as it ended, or an error
// when it did not approve it (approvals.ErrNoRule when no rule matches).
type FixApprover interface {
	ApproveFix(ctx context.Context, p tasks.PlanRecord) (tasks.PlanRecord, error)
}

// DefaultMaxConcurrent is how many items RunAll runs at a time when MaxConcurrent is
// not set.
const DefaultMaxConcurrent = 4

// Runner runs items and records what happened.
type Runner struct {
	Checks CheckLookup
	// Tasks resolves fix= tasks; nil disables remediation plans.
	Tasks TaskLookup
	// FixApprover, when set, is offered every fix= plan queued anew; nil leaves them
	// all pending for a person.
	FixApprover FixApprover
	Planner     Drafter
	// State records receipts, findings and plans: the database, or the daemon.
	State control.Backend
	// Actor is audited as the one who queued plans: "scheduler", or the local user.
	Actor string
	// Agents is what the operator allows the items agents chose (heartbeat.Agent):
	// their parameters are admitted and their destinations enforced by it. The zero
	// value refuses everything the policy restricts.
	Agents checks.AgentPolicy
	// Slack is how long after an item's timeout the check's context is cancelled, so a
	// probe that times out by itself reports its target's timeout as a finding first
	// (default 1s). Grace is how long a check that ignores cancellation is then waited
	// for before the run is recorded as error and abandoned (default 2s).
	Slack, Grace time.Duration
	// MaxConcurrent bounds RunAll (default DefaultMaxConcurrent).
	MaxConcurrent int
	// AfterRun, when set, is called with every recorded outcome of a check (the model
	// explains its new failing findings there).
	AfterRun func(ctx context.Context, o *Outcome)
	Now      func() time.Time
	Logger   *slog.Logger
}

// Trigger describes why and when an item runs.
type Trigger struct {
	Kind      store.Trigger
	Scheduled time.Time
	Missed    int
}

// Outcome is one run of one item.
type Outcome struct {
	Item    heartbeat.Item
	Receipt store.Receipt
	// Findings are the findings of the run with their lifecycle state (and MutedBy),
	// followed by the ones it resolved.
	Findings []store.RunFinding
	Plan     *tasks.PlanRecord
	// PlanCreated is false when the item already had a pending plan.
	PlanCreated bool
	// FixPlans are the plans fix= queued for the run's new findings.
	FixPlans []tasks.PlanRecord
	// Err is set when the run could not be recorded; the receipt is then incomplete.
	Err error
	// Explanations are the model's explanations of findings, by fingerprint, and
	// ExplainErrors what kept it from explaining others (AfterRun fills them).
	Explanations  map[string]string
	ExplainErrors []string
}

// Duration is how long the run took.
func (o Outcome) Duration() time.Duration {
	if o.Receipt.Ended.IsZero() {
		return 0
	}
	return o.Receipt.Ended.Sub(o.Receipt.Started)
}

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Dispatch implements scheduler.Dispatcher: a skipped tick leaves a skipped receipt,
// any other tick runs its item.
func (r *Runner) Dispatch(ctx context.Context, t scheduler.Tick) {
	item := t.Job.Item
	if t.Skip != "" {
		now := r.now()
		_, err := control.OpAddReceipt.Do(ctx, r.State, store.Receipt{
			Item: item.Key, Check: item.ID, Pos: item.Pos(), Trigger: store.TriggerSchedule,
			Scheduled: t.Scheduled, Started: now, Ended: now, Status: checks.Skipped, Error: t.Skip,
		})
		if err != nil {
			r.logger().Error("recording a skipped tick failed", "item", item.Pos(), "check", item.ID, "err", err)
		}
		return
	}
	if t.Round != nil {
		ctx = checks.WithRound(ctx, t.Round)
	}
	trigger := Trigger{Kind: store.TriggerSchedule, Scheduled: t.Scheduled, Missed: t.Missed}
	if t.CatchUp {
		trigger.Kind = store.TriggerCatchUp
	}
	o := r.RunItem(ctx, item, trigger)
	if o.Err != nil {
		r.logger().Error("recording a run failed", "item", item.Pos(), "check", item.ID, "err", o.Err)
	}
}

// RunAll runs every item once, at most MaxConcurrent at a time, sharing one round so
// checks that need the same provider data read it once. Outcomes are in item order.
func (r *Runner) RunAll(ctx context.Context, items []heartbeat.Item) []Outcome {
	ctx = checks.WithRound(ctx, checks.NewRound())
	limit := r.MaxConcurrent
	if limit <= 0 {
		limit = DefaultMaxConcurrent
	}
	sem := make(chan struct{}, limit)
	out := make([]Outcome, len(items))
	var wg sync.WaitGroup
	now := r.now()
	for i, it := range items {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = r.RunItem(ctx, it, Trigger{Kind: store.TriggerManual, Scheduled: now})
		})
	}
	wg.Wait()
	return out
}

// ErrNotRouted marks plain-language items that no router has resolved to checks.
var ErrNotRouted = errors.New("not routed yet")

// RunItem runs one item once and records it.
func (r *Runner) RunItem(ctx context.Context, item heartbeat.Item, trig Trigger) Outcome {
	o := Outcome{Item: item}
	if item.Kind == heartbeat.ItemQuestion {
		now := r.now()
		o.Receipt = store.Receipt{
			Item: item.Key, Pos: item.Pos(), Trigger: trig.Kind, Scheduled: trig.Scheduled,
			Started: now, Ended: now, Status: checks.Skipped,
			Error: fmt.Sprintf("%s: no check answers this plain-language item (`clankerd lint` says why); write a check id in backticks instead (see `clankerd lint --list`)", ErrNotRouted),
		}
		return o
	}
	rec := store.Receipt{
		Item: item.Key, Check: item.ID, Pos: item.Pos(), Trigger: trig.Kind,
		Scheduled: trig.Scheduled, Started: r.now(), Status: store.StatusRunning, Missed: trig.Missed,
	}
	seq, err := control.OpBeginRun.Do(ctx, r.State, rec)
	if err != nil {
		o.Receipt, o.Err = rec, fmt.Errorf("recording the start of %s: %w", item.Pos(), err)
		return o
	}
	var end store.RunEnd
	ctx, err = r.admit(ctx, item)
	switch {
	case err != nil:
		end = store.RunEnd{Status: checks.Error, Error: err.Error()}
	case item.Kind == heartbeat.ItemTask:
		end = r.queuePlan(ctx, item, &o)
	default:
		end = r.check(ctx, item)
	}
	end.Ended = r.now()
	// The outcome is recorded even when ctx was cancelled (daemon shutting down).
	res, err := control.OpEndRun.Do(context.WithoutCancel(ctx), r.State, control.RunEnd{Seq: seq, End: end})
	if err != nil {
		rec.Seq, rec.Ended, rec.Status, rec.Error = seq, end.Ended, end.Status, end.Error
		o.Receipt, o.Err = rec, fmt.Errorf("recording the end of %s: %w", item.Pos(), err)
		return o
	}
	o.Receipt, o.Findings = res.Receipt, res.Findings
	receipt := res.Receipt
	if item.Fix != "" {
		o.FixPlans = r.queueFixes(ctx, item, res.Findings)
	}
	if r.AfterRun != nil && item.Kind == heartbeat.ItemCheck {
		r.AfterRun(ctx, &o)
	}
	r.logger().Debug("item ran", "item", item.Pos(), "check", item.ID, "status", receipt.Status,
		"duration", receipt.Ended.Sub(receipt.Started), "new", receipt.Findings.New, "resolved", receipt.Findings.Resolved)
	return o
}

// ErrUnknownSpec: an agent's item names no check or task the runner knows, so its
// parameters cannot be admitted.
var ErrUnknownSpec = errors.New("no such check or task")

// admit holds an agent's item to the operator's agent policy, the one gate every
// agent-chosen run and plan goes through: its parameters are admitted here, and the
// context it returns carries the destinations its probes may dial. Operator items pass
// unchanged.
func (r *Runner) admit(ctx context.Context, item heartbeat.Item) (context.Context, error) {
	if item.Trust != heartbeat.Agent {
		return ctx, nil
	}
	var spec checks.Spec
	var ok bool
	if item.Kind == heartbeat.ItemTask && r.Tasks != nil {
		var t checks.Task
		if t, ok = r.Tasks.Task(item.ID); ok {
			spec = t.Spec()
		}
	} else if item.Kind == heartbeat.ItemCheck {
		var c checks.Check
		if c, ok = r.Checks.Check(item.ID); ok {
			spec = c.Spec()
		}
	}
	if !ok {
		return ctx, fmt.Errorf("%w: %q; see `clankerd lint --list`", ErrUnknownSpec, item.ID)
	}
	if err := r.Agents.Admit(spec, item.Params); err != nil {
		return ctx, err
	}
	return checks.WithReach(ctx, &r.Agents.Reach), nil
}

// Propose drafts the plan of task item it outside a scheduled run (a question's change
// request, an agent's proposal) and queues it as pending, admitted like RunItem's
// items. Its source is the item's origin and it is queued under the item's key
// (heartbeat.NewItem: origin, task and parameters), so asking for the same change again
// while its plan is pending returns that plan (Queued.Created false).
func (r *Runner) Propose(ctx context.Context, it heartbeat.Item) (control.Queued, error) {
	ctx, err := r.admit(ctx, it)
	if err != nil {
		return control.Queued{}, err
	}
	return r.draftAndQueue(ctx, tasks.Request{Task: it.ID, Params: it.Params, Item: it.Key, Source: it.File})
}

// Preview drafts the plan task item it would queue, admitted like Propose, and queues
// nothing: the task reads live state and changes nothing.
func (r *Runner) Preview(ctx context.Context, it heartbeat.Item) (tasks.Draft, error) {
	ctx, err := r.admit(ctx, it)
	if err != nil {
		return tasks.Draft{}, err
	}
	return r.Planner.Draft(ctx, tasks.Request{Task: it.ID, Params: it.Params, Item: it.Key, Source: it.File})
}

func (r *Runner) draftAndQueue(ctx context.Context, req tasks.Request) (control.Queued, error) {
	draft, err := r.Planner.Draft(ctx, req)
	if err != nil {
		return control.Queued{}, err
	}
	return control.OpQueuePlan.Do(ctx, r.State, control.QueueRequest{Draft: draft, Actor: r.Actor})
}

func (r *Runner) queuePlan(ctx context.Context, item heartbeat.Item, o *Outcome) store.RunEnd {
	q, err := r.draftAndQueue(ctx, tasks.Request{Task: item.ID, Params: item.Params, Item: item.Key, Source: item.Pos()})
	if reason, ok := checks.IsSkip(err); ok {
		// The provider is not configured here (no credentials): nothing to plan.
		return store.RunEnd{Status: checks.Skipped, Error: reason}
	}
	if err != nil {
		return store.RunEnd{Status: checks.Error, Error: err.Error()}
	}
	o.Plan, o.PlanCreated = &q.Plan, q.Created
	plan := q.Plan
	return store.RunEnd{Status: checks.Pass, Plan: plan.ID}
}

// approveFix offers a new fix plan to the FixApprover and returns it as it ended; a
// plan it does not approve stays pending, logged with why.
func (r *Runner) approveFix(ctx context.Context, log *slog.Logger, plan tasks.PlanRecord) tasks.PlanRecord {
	decided, err := r.FixApprover.ApproveFix(ctx, plan)
	if err != nil {
		log.Info("fix plan left for a person", "plan", plan.ID, "err", err)
	} else {
		log.Info("fix plan approved by policy", "plan", plan.ID, "state", decided.State, "actor", decided.DecidedBy)
	}
	if decided.ID != plan.ID {
		return plan
	}
	return decided
}

type runResult struct {
	res checks.Result
	err error
}

// check runs the item's check under its timeout and returns how the run ended.
func (r *Runner) check(ctx context.Context, item heartbeat.Item) store.RunEnd {
	c, ok := r.Checks.Check(item.ID)
	if !ok {
		return store.RunEnd{Status: checks.Error, Error: fmt.Sprintf("no check %q in this build; run `clankerd lint` on the heartbeat", item.ID)}
	}
	timeout := item.Params.Duration("timeout")
	if timeout <= 0 {
		timeout = checks.DefaultTimeout
	}
	slack, grace := orDefault(r.Slack, time.Second), orDefault(r.Grace, 2*time.Second)
	runCtx, cancel := context.WithTimeout(ctx, timeout+slack)
	defer cancel()

	done := make(chan runResult, 1)
	go func() {
		var out runResult
		defer func() {
			if p := recover(); p != nil {
				out = runResult{err: fmt.Errorf("check %s panicked: %v; this is a bug in clankerd, please report it", item.ID, p)}
			}
			done <- out
		}()
		out.res, out.err = c.Run(runCtx, item.Params)
	}()

	var out runResult
	select {
	case out = <-done:
	case <-runCtx.Done():
		select {
		case out = <-done:
		case <-time.After(grace):
			r.logger().Warn("check ignored cancellation and was abandoned", "item", item.Pos(), "check", item.ID)
			out = runResult{err: runCtx.Err()}
		}
	}
	return classify(ctx, runCtx, timeout, out)
}

func classify(parent, runCtx context.Context, timeout time.Duration, out runResult) store.RunEnd {
	if out.err != nil {
		if reason, ok := checks.IsSkip(out.err); ok {
			return store.RunEnd{Status: checks.Skipped, Error: reason}
		}
		switch {
		case parent.Err() != nil:
			return store.RunEnd{Status: checks.Error, Error: "cancelled before the check finished: clankerd is shutting down"}
		case errors.Is(runCtx.Err(), context.DeadlineExceeded):
			return store.RunEnd{Status: checks.Error, Error: fmt.Sprintf("timed out after %s: %v; raise timeout= on the item or look at the target", timeout, out.err)}
		}
		return store.RunEnd{Status: checks.Error, Error: out.err.Error()}
	}
	if err := validFindings(out.res.Findings); err != nil {
		return store.RunEnd{Status: checks.Error, Error: err.Error()}
	}
	return store.RunEnd{Status: out.res.Status(), Findings: out.res.Findings, Evidence: out.res.Evidence, Inventory: out.res.Inventory}
}

// validFindings refuses findings that cannot be tracked: a check bug must not turn
// into a pass or a corrupt history.
func validFindings(fs []checks.Finding) error {
	for _, f := range fs {
		if f.Resource == "" || f.Problem == "" || f.Severity.Rank() == 0 {
			return fmt.Errorf("check returned a finding without resource, problem or valid severity (%q/%q/%q); this is a bug in the check", f.Resource, f.Problem, f.Severity)
		}
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// queueFixes queues a plan of the item's fix= task for every new finding the task can
// aim at. Failures are logged: they must not hide the findings themselves.
func (r *Runner) queueFixes(ctx context.Context, item heartbeat.Item, findings []store.RunFinding) []tasks.PlanRecord {
	log := r.logger().With("item", item.Pos(), "fix", item.Fix)
	if r.Tasks == nil {
		return nil
	}
	task, ok := r.Tasks.Task(item.Fix)
	if !ok {
		log.Error("fix= names no write task in this build")
		return nil
	}
	rem, ok := task.(checks.Remediator)
	if !ok {
		log.Error("fix= names a task that cannot aim at findings")
		return nil
	}
	spec := task.Spec()
	var plans []tasks.PlanRecord
	for _, f := range findings {
		if f.State != store.FindingNew {
			continue
		}
		raw, ok := rem.FixParams(f.Finding)
		if !ok {
			continue
		}
		// The task works where the check looked: same context, profile, region.
		for k, v := range item.Params.Values() {
			if _, has := raw[k]; !has && k != "timeout" {
				if _, takes := spec.Param(k); takes {
					raw[k] = v
				}
			}
		}
		params, err := spec.Bind(raw, nil)
		if err != nil {
			log.Error("fix parameters do not fit the task", "finding", f.Fingerprint, "err", err)
			continue
		}
		q, err := r.draftAndQueue(ctx, tasks.Request{Task: item.Fix, Params: params, Item: item.FixKey(f.Fingerprint), Source: "fix:" + f.Fingerprint})
		if err != nil {
			log.Error("planning or queueing a fix failed", "finding", f.Fingerprint, "err", err)
			continue
		}
		plan := q.Plan
		log.Info("fix queued as a plan", "finding", f.Fingerprint, "plan", plan.ID)
		if q.Created && r.FixApprover != nil {
			plan = r.approveFix(ctx, log, plan)
		}
		plans = append(plans, plan)
	}
	return plans
}
