// Package tasks turns write requests into pending plans and moves plans through their
// state machine. Nothing here applies a change on its own: only Approve leads to Apply,
// and Apply re-reads live state first and refuses when it drifted from the plan.
package tasks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// DefaultExpiry is how long a plan waits for approval when no expiry is configured.
const DefaultExpiry = time.Hour

// Errors an approval or rejection is refused with. Callers tell them apart with
// errors.Is; the messages say what to do.
var (
	ErrNotPending = errors.New("plan is not pending")
	ErrExpired    = errors.New("plan expired")
	// ErrStale wraps the *checks.DriftError that made approve refuse.
	ErrStale = errors.New("plan is stale")
	// ErrTampered: the stored plan no longer matches the digest it was created with.
	ErrTampered = errors.New("plan does not match its digest")
	// ErrChanged: the stored plan is not the one the approver reviewed.
	ErrChanged = errors.New("plan changed since it was reviewed")
	// ErrPlanExists: a plan with the id is already stored; queueing never replaces one.
	ErrPlanExists = errors.New("a plan with this id exists")
	// ErrApplyFailed: the change was approved but applying it failed.
	ErrApplyFailed = errors.New("apply failed")
)

// Tx reads and writes plans and the audit log inside one transaction of the state
// store, which implements it.
type Tx interface {
	Plan(id string) (PlanRecord, error)
	// PendingPlanFor returns the item's pending plan, if it has one that has not
	// expired.
	PendingPlanFor(item string) (PlanRecord, bool, error)
	Plans(f PlanFilter) ([]PlanRecord, error)
	// InsertPlan stores a new plan; it returns ErrPlanExists, and changes nothing,
	// when a plan with its id is stored.
	InsertPlan(p PlanRecord) error
	// PutPlan stores a changed plan that is already stored.
	PutPlan(p PlanRecord) error
	// Audit appends a record to the audit log.
	Audit(actor, action, subject string, detail map[string]string) error
}

// Store runs fn in one read-write transaction, committed when fn returns nil.
type Store interface {
	UpdatePlans(ctx context.Context, fn func(Tx) error) error
}

// TaskLookup finds write tasks by id; *checks.Registry implements it.
type TaskLookup interface {
	Task(id string) (checks.Task, bool)
}

// Planner drafts plans: it calls a task's Plan, which reads live state and changes
// nothing. It needs no database, so a `clankerd check` run while the daemon holds the
// database can draft here and queue through the daemon.
type Planner struct {
	Tasks TaskLookup
	// Expiry is how long the plans it drafts ask to wait for approval.
	Expiry time.Duration
}

// Request asks for a plan.
type Request struct {
	Task   string
	Params checks.Params
	// Item is the heartbeat task item's key ("" for ad-hoc requests): at most one plan
	// per item is pending at a time.
	Item string
	// Source says where the request came from: "FILE:LINE", "cli", "mcp".
	Source string
}

// Draft calls the task's Plan and returns the draft to queue.
func (p *Planner) Draft(ctx context.Context, req Request) (Draft, error) {
	task, ok := p.Tasks.Task(req.Task)
	if !ok {
		return Draft{}, fmt.Errorf("no write task %q in this build; see `clankerd lint --list`", req.Task)
	}
	plan, err := safePlan(ctx, task, req.Params)
	if err != nil {
		return Draft{}, fmt.Errorf("planning %s: %w", req.Task, err)
	}
	plan.Task, plan.Params = req.Task, req.Params
	return Draft{Item: req.Item, Source: req.Source, Plan: plan, Expiry: p.Expiry}, nil
}

func safePlan(ctx context.Context, task checks.Task, params checks.Params) (plan checks.Plan, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("task panicked while planning: %v", r)
		}
	}()
	return task.Plan(ctx, params)
}

// NewID returns a random plan id such as "p-3f9a2c1b7d4e".
func NewID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "p-" + hex.EncodeToString(b)
}

// Service moves stored plans through their state machine and audits every step.
type Service struct {
	Store Store
	Tasks TaskLookup
	// Key signs the plans it queues (PlanDigest) and checks them when they are
	// approved; it is kept outside the database, so an edited record does not verify.
	Key []byte
	Now func() time.Time
	// NewID returns a fresh plan id (default NewID).
	NewID  func() string
	Logger *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Queue stores a draft as a new pending plan, unless its item already has a pending
// plan: then that one is returned and created is false. The service, not the caller,
// gives the plan its id (never one in use), state, times, expiry and keyed digest.
// The actor is audited.
func (s *Service) Queue(ctx context.Context, d Draft, actor string) (rec PlanRecord, created bool, err error) {
	if len(s.Key) == 0 {
		return PlanRecord{}, false, errors.New("tasks: the plan service has no key to sign plans with")
	}
	err = s.Store.UpdatePlans(ctx, func(tx Tx) error {
		if d.Item != "" {
			existing, ok, err := tx.PendingPlanFor(d.Item)
			if err != nil {
				return err
			}
			if ok && existing.EffectiveState(s.now()) == PlanPending {
				rec = existing
				return nil
			}
		}
		rec = s.newRecord(d)
		created = true
		if err := tx.InsertPlan(rec); err != nil {
			return err
		}
		return auditPlan(tx, actor, "plan.created", rec, nil)
	})
	if err != nil {
		return PlanRecord{}, false, fmt.Errorf("queueing plan for %s: %w", d.Task, err)
	}
	return rec, created, nil
}

// newRecord makes the pending plan of a draft and signs it.
func (s *Service) newRecord(d Draft) PlanRecord {
	plan := d.Plan
	if plan.Risk == "" {
		plan.Risk = checks.RiskHigh
		plan.RiskReasons = append(plan.RiskReasons, "the task did not rate its risk")
	}
	expiry := d.Expiry
	if expiry <= 0 {
		expiry = DefaultExpiry
	}
	newID := s.NewID
	if newID == nil {
		newID = NewID
	}
	now := s.now().UTC()
	rec := PlanRecord{
		ID: newID(), Item: d.Item, Source: d.Source, Plan: plan, State: PlanPending,
		CreatedAt: now, ExpiresAt: now.Add(expiry), UpdatedAt: now,
	}
	rec.Digest = PlanDigest(s.Key, rec)
	return rec
}

// Approve approves a pending plan and applies it: the only way a change is made.
// reviewed is the digest of the plan as the approver was shown it: the plan is
// refused when the stored one differs, or no longer matches its own keyed digest.
// The task re-reads live state and the plan turns stale, without any change, when the
// state drifted. Of concurrent approvals of one plan exactly one applies it; the others
// get ErrNotPending.
func (s *Service) Approve(ctx context.Context, id, reviewed, actor string) (PlanRecord, error) {
	return s.approve(ctx, id, reviewed, actor, nil)
}

// ApproveByRule is Approve for a plan the operator's approvals policy lets through:
// rule, the name of the policy rule that matched, is in the audit record of every
// step. The caller matched the rule; the plan is checked and applied as by Approve.
func (s *Service) ApproveByRule(ctx context.Context, id, reviewed, actor, rule string) (PlanRecord, error) {
	if rule == "" {
		return PlanRecord{}, errors.New("tasks: an approval by policy names its rule")
	}
	return s.approve(ctx, id, reviewed, actor, map[string]string{"rule": rule})
}

func (s *Service) approve(ctx context.Context, id, reviewed, actor string, by map[string]string) (PlanRecord, error) {
	rec, err := s.transition(ctx, id, func(tx Tx, rec *PlanRecord) error {
		if err := s.requirePending(tx, rec, actor); err != nil {
			return err
		}
		if err := s.verify(*rec, reviewed); err != nil {
			return err
		}
		rec.State, rec.DecidedBy = PlanApproved, actor
		if err := auditPlan(tx, actor, "plan.approved", *rec, by); err != nil {
			return err
		}
		rec.State = PlanApplying
		return auditPlan(tx, actor, "plan.applying", *rec, by)
	})
	if err != nil {
		return rec, err
	}

	applied, applyErr := s.apply(ctx, rec)
	final, err := s.transition(context.WithoutCancel(ctx), id, func(tx Tx, r *PlanRecord) error {
		action, detail := "plan.applied", maps.Clone(by)
		if detail == nil {
			detail = map[string]string{}
		}
		switch {
		case errors.Is(applyErr, checks.ErrDrift):
			r.State, r.Error, action = PlanStale, applyErr.Error(), "plan.stale"
		case applyErr != nil:
			r.State, r.Error, action = PlanFailed, applyErr.Error(), "plan.failed"
		default:
			r.State, r.Result = PlanApplied, &applied
			detail["result"] = applied.Summary
		}
		if r.Error != "" {
			detail["error"] = r.Error
		}
		return auditPlan(tx, actor, action, *r, detail)
	})
	if err != nil {
		return final, fmt.Errorf("recording the outcome of plan %s (apply error: %v): %w", id, applyErr, err)
	}
	s.logger().Info("plan decided", "plan", id, "state", final.State, "actor", actor)
	switch final.State {
	case PlanStale:
		return final, fmt.Errorf("%w: %w", ErrStale, applyErr)
	case PlanFailed:
		return final, fmt.Errorf("%w: plan %s: %w", ErrApplyFailed, id, applyErr)
	}
	return final, nil
}

// verify refuses a stored plan that does not match its keyed digest, and one that is
// not the plan the approver reviewed.
func (s *Service) verify(rec PlanRecord, reviewed string) error {
	switch {
	case len(s.Key) == 0:
		return errors.New("tasks: the plan service has no key to check plans with")
	case !keyed(rec.Digest):
		return fmt.Errorf("%w: plan %s has no keyed digest: it was queued before clankerd signed plans, or edited outside clankerd; reject it (`clankerd reject %s --reason requeue`) and queue it again", ErrTampered, rec.ID, rec.ID)
	case !hmac.Equal([]byte(PlanDigest(s.Key, rec)), []byte(rec.Digest)):
		return fmt.Errorf("%w: plan %s was modified after it was created; reject it and queue a new one", ErrTampered, rec.ID)
	case reviewed == "":
		return fmt.Errorf("%w: the approval of plan %s names no reviewed plan (Decision.Digest); run `clankerd approve %s`", ErrChanged, rec.ID, rec.ID)
	case reviewed != rec.Digest:
		return fmt.Errorf("%w: plan %s is not the one you reviewed; run `clankerd plan show %s` and approve again", ErrChanged, rec.ID, rec.ID)
	}
	return nil
}

func (s *Service) apply(ctx context.Context, rec PlanRecord) (applied checks.Applied, err error) {
	task, ok := s.Tasks.Task(rec.Task)
	if !ok {
		return checks.Applied{}, fmt.Errorf("no write task %q in this build; the plan cannot be applied", rec.Task)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("task panicked while applying: %v", r)
		}
	}()
	return task.Apply(ctx, rec.Plan)
}

// Reject refuses a pending plan; reason is required.
func (s *Service) Reject(ctx context.Context, id, actor, reason string) (PlanRecord, error) {
	if reason == "" {
		return PlanRecord{}, errors.New("a rejection needs a reason: pass --reason \"...\"")
	}
	return s.transition(ctx, id, func(tx Tx, rec *PlanRecord) error {
		if err := s.requirePending(tx, rec, actor); err != nil {
			return err
		}
		rec.State, rec.DecidedBy, rec.Reason = PlanRejected, actor, reason
		return auditPlan(tx, actor, "plan.rejected", *rec, map[string]string{"reason": reason})
	})
}

// requirePending refuses anything but a pending, unexpired plan. A plan found expired
// is recorded as expired (and audited) on the way.
func (s *Service) requirePending(tx Tx, rec *PlanRecord, actor string) error {
	switch rec.EffectiveState(s.now()) {
	case PlanPending:
		return nil
	case PlanExpired:
		if rec.State == PlanPending {
			if err := s.expire(tx, rec, actor); err != nil {
				return err
			}
		}
		return &refusal{err: fmt.Errorf("%w: plan %s expired at %s; queue a new plan (`clankerd check` fires task items once)", ErrExpired, rec.ID, rec.ExpiresAt.Format(time.RFC3339)), rec: *rec}
	default:
		return fmt.Errorf("%w: plan %s is %s; only pending plans can be approved or rejected", ErrNotPending, rec.ID, rec.State)
	}
}

func (s *Service) expire(tx Tx, rec *PlanRecord, actor string) error {
	rec.State = PlanExpired
	rec.UpdatedAt = s.now()
	if err := tx.PutPlan(*rec); err != nil {
		return err
	}
	return auditPlan(tx, actor, "plan.expired", *rec, nil)
}

// refusal carries a state change that must be committed although the operation is
// refused (a plan found expired is recorded as expired).
type refusal struct {
	err error
	rec PlanRecord
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// ExpireDue records every pending plan past its expiry as expired; the daemon calls it
// periodically so the audit log says when plans lapsed.
func (s *Service) ExpireDue(ctx context.Context, actor string) (int, error) {
	n := 0
	err := s.Store.UpdatePlans(ctx, func(tx Tx) error {
		plans, err := tx.Plans(PlanFilter{States: []PlanState{PlanExpired}})
		if err != nil {
			return err
		}
		for _, p := range plans {
			if p.State != PlanPending {
				continue
			}
			if err := s.expire(tx, &p, actor); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// RecoverInterrupted marks plans left approved or applying by a process that stopped
// mid-apply as failed: whether the change was made is unknown, so the operator must
// look at the target. A non-zero before limits it to plans last updated before then:
// where several replicas share the store, a plan another live replica is applying now
// is left alone.
func (s *Service) RecoverInterrupted(ctx context.Context, actor string, before time.Time) (int, error) {
	n := 0
	err := s.Store.UpdatePlans(ctx, func(tx Tx) error {
		plans, err := tx.Plans(PlanFilter{States: []PlanState{PlanApproved, PlanApplying}})
		if err != nil {
			return err
		}
		for _, p := range plans {
			if !before.IsZero() && !p.UpdatedAt.Before(before) {
				continue
			}
			p.State = PlanFailed
			p.Error = "interrupted while applying: clankerd stopped before the outcome was recorded; check the target's live state before planning again"
			p.UpdatedAt = s.now()
			if err := tx.PutPlan(p); err != nil {
				return err
			}
			if err := auditPlan(tx, actor, "plan.failed", p, map[string]string{"error": p.Error}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// transition loads plan id, lets change modify it inside one transaction and stores
// it. A *refusal from change commits the record it carries and returns its error.
func (s *Service) transition(ctx context.Context, id string, change func(Tx, *PlanRecord) error) (PlanRecord, error) {
	var rec PlanRecord
	var refused *refusal
	err := s.Store.UpdatePlans(ctx, func(tx Tx) error {
		var err error
		rec, err = tx.Plan(id)
		if err != nil {
			return err
		}
		if err := change(tx, &rec); err != nil {
			if errors.As(err, &refused) {
				return nil
			}
			return err
		}
		rec.UpdatedAt = s.now()
		return tx.PutPlan(rec)
	})
	if err != nil {
		return rec, err
	}
	if refused != nil {
		return refused.rec, refused.err
	}
	return rec, nil
}

// auditPlan records a step of plan p in the audit log, with what the plan changes.
func auditPlan(tx Tx, actor, action string, p PlanRecord, extra map[string]string) error {
	detail := map[string]string{
		"task":   p.Task,
		"target": p.Target,
		"change": p.Change,
		"risk":   string(p.Risk),
		"state":  string(p.State),
		"digest": p.Digest,
	}
	if p.Source != "" {
		detail["source"] = p.Source
	}
	for k, v := range extra {
		detail[k] = v
	}
	return tx.Audit(actor, action, p.ID, detail)
}
