// Package control is the one API to clankerd's state: every operation the CLI, the
// runner, agents and the daemon perform on it (record runs, list findings and plans,
// queue, approve and reject plans, mutes, the audit log) is one entry of the table in
// ops.go. Local performs an operation against the database, Client sends it to the
// daemon over its unix socket (mode 0600), or to a team server over HTTPS, and Server
// answers every entry there: on the socket to the daemon's own user, over HTTPS to
// callers a Kubernetes TokenReview authenticates, each operation only as RBAC allows
// (access.go).
package control

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/clankerd/clankerd/internal/ratelimit"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// Local performs the operations directly against an open database.
type Local struct {
	DB    *store.DB
	Tasks *tasks.Service
	Now   func() time.Time
	// Daemon describes the running daemon when Local serves one; nil otherwise.
	Daemon func() *DaemonInfo
	// Observe, when set, is called with every receipt recorded as ended (EndRun) or
	// as a tick that did not run (AddReceipt), for metrics.
	Observe func(store.Receipt)
	// ObserveRecord, when set, is called with the time each run's end took to commit,
	// from the call to EndRun's transaction to its commit, for metrics.
	ObserveRecord func(time.Duration)
}

func (l *Local) observe(r store.Receipt, err error) {
	if err == nil && l.Observe != nil {
		l.Observe(r)
	}
}

// Status summarises the state: items and their last runs, open findings, pending plans.
type Status struct {
	Daemon       *DaemonInfo    `json:"daemon,omitempty"`
	Database     string         `json:"database"`
	Items        []ItemStatus   `json:"items"`
	OpenFindings map[string]int `json:"open_findings"`
	PendingPlans int            `json:"pending_plans"`
	// OutboxDepth counts notification events waiting for delivery; Targets sums up
	// the deliveries to each target that was ever tried.
	OutboxDepth int                 `json:"outbox_depth"`
	Targets     []store.TargetState `json:"notify_targets,omitempty"`
	// RateLimits is the GitHub rate limit left for each API and token, from the newest
	// run of a github.* check that reported it.
	RateLimits []ratelimit.RateLimit `json:"rate_limits,omitempty"`
}

// TargetInfo describes a configured notification target, secrets redacted.
type TargetInfo struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Where       string `json:"where"`
	Source      string `json:"source"`
	MinSeverity string `json:"min_severity,omitempty"`
}

// ElectionInfo is a replica's view of the leader election: who it is, who leads.
type ElectionInfo struct {
	Identity string `json:"identity"`
	Leader   string `json:"leader,omitempty"`
	Leading  bool   `json:"leading"`
}

// ItemStatus is an item's last run and, in the daemon, its next.
type ItemStatus struct {
	store.ItemState
	Next    time.Time `json:"next,omitzero"`
	Running bool      `json:"running,omitempty"`
}

// DaemonInfo describes a running daemon.
type DaemonInfo struct {
	PID        int       `json:"pid"`
	Version    string    `json:"version"`
	Started    time.Time `json:"started"`
	Heartbeats []string  `json:"heartbeats"`
	Items      int       `json:"items"`
	LastLoad   time.Time `json:"last_load"`
	// LoadErrors are the problems of the last reload; the last good items keep running.
	LoadErrors []string `json:"load_errors,omitempty"`
	// Next holds each scheduled item's next run, by item key.
	Next map[string]time.Time `json:"-"`
	// Targets are the notification targets the daemon delivers to.
	Targets []TargetInfo `json:"notify_targets,omitempty"`
	// Model is the model's call budget, when the daemon explains findings.
	Model *ModelInfo `json:"model,omitempty"`
	// Election is the leader election this replica takes part in (`run
	// --leader-elect`); nil when the daemon is the only one.
	Election *ElectionInfo `json:"election,omitempty"`
}

// ModelInfo is the model's budget as the daemon has spent it.
type ModelInfo struct {
	Model     string `json:"model"`
	Calls     int    `json:"calls"`
	ThisHour  int    `json:"this_hour"`
	PerHour   int    `json:"per_hour_limit"`
	PerRun    int    `json:"per_run_limit"`
	Skipped   int    `json:"skipped_over_budget"`
	Remaining int    `json:"remaining_this_hour"` // -1: no hourly limit
}

func (l *Local) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// Close closes the database.
func (l *Local) Close() error { return l.DB.Close() }

func (l *Local) backend() {}

// view runs fn in a read transaction and returns what it returned.
func view[T any](ctx context.Context, l *Local, fn func(*store.Tx) (T, error)) (out T, err error) {
	err = l.DB.View(ctx, func(tx *store.Tx) error {
		out, err = fn(tx)
		return err
	})
	return out, err
}

// update runs fn in a read-write transaction and returns what it returned.
func update[T any](ctx context.Context, l *Local, fn func(*store.Tx) (T, error)) (out T, err error) {
	err = l.DB.Update(ctx, func(tx *store.Tx) error {
		out, err = fn(tx)
		return err
	})
	return out, err
}

func (l *Local) status(ctx context.Context, _ None) (Status, error) {
	st := Status{Database: l.DB.Path(), OpenFindings: map[string]int{}}
	if l.Daemon != nil {
		st.Daemon = l.Daemon()
	}
	err := l.DB.View(ctx, func(tx *store.Tx) error {
		items, err := tx.ItemStates()
		if err != nil {
			return err
		}
		for _, it := range items {
			is := ItemStatus{ItemState: it}
			if st.Daemon != nil {
				is.Next = st.Daemon.Next[it.Item]
			}
			st.Items = append(st.Items, is)
		}
		open, err := tx.Findings(store.FindingFilter{States: []store.FindingState{store.FindingNew, store.FindingUnchanged, store.FindingChanged}})
		if err != nil {
			return err
		}
		for _, f := range open {
			st.OpenFindings[string(f.Severity)]++
		}
		pending, err := tx.Plans(tasks.PlanFilter{States: []tasks.PlanState{tasks.PlanPending}})
		st.PendingPlans = len(pending)
		if err != nil {
			return err
		}
		st.OutboxDepth = tx.OutboxDepth()
		if st.RateLimits, err = ratelimit.Latest(tx); err != nil {
			return err
		}
		st.Targets, err = tx.TargetStates()
		return err
	})
	return st, err
}

func (l *Local) runs(ctx context.Context, f store.RunFilter) ([]store.Receipt, error) {
	return view(ctx, l, func(tx *store.Tx) ([]store.Receipt, error) { return tx.Runs(f) })
}

func (l *Local) findings(ctx context.Context, f store.FindingFilter) ([]store.FindingRecord, error) {
	return view(ctx, l, func(tx *store.Tx) ([]store.FindingRecord, error) { return tx.Findings(f) })
}

// diff lists what is new, changed and resolved since each item's previous run.
func (l *Local) diff(ctx context.Context, _ None) ([]store.FindingRecord, error) {
	return view(ctx, l, func(tx *store.Tx) ([]store.FindingRecord, error) { return tx.Diff() })
}

// plans lists plans, newest first. Expired pending plans are shown as expired.
func (l *Local) plans(ctx context.Context, f tasks.PlanFilter) ([]tasks.PlanRecord, error) {
	out, err := view(ctx, l, func(tx *store.Tx) ([]tasks.PlanRecord, error) { return tx.Plans(f) })
	now := l.now()
	for i := range out {
		out[i].State = out[i].EffectiveState(now)
	}
	return out, err
}

func (l *Local) plan(ctx context.Context, id string) (tasks.PlanRecord, error) {
	p, err := view(ctx, l, func(tx *store.Tx) (tasks.PlanRecord, error) { return tx.Plan(id) })
	p.State = p.EffectiveState(l.now())
	return p, err
}

// approve approves and applies a plan. It runs to its end even when the caller goes
// away mid-apply.
func (l *Local) approve(ctx context.Context, d Decision) (tasks.PlanRecord, error) {
	if err := decides(ctx); err != nil {
		return tasks.PlanRecord{}, err
	}
	ctx, by := context.WithoutCancel(ctx), decider(ctx, d.Actor)
	if d.Policy != "" {
		return l.Tasks.ApproveByRule(ctx, d.ID, d.Digest, PolicyActor(d.Policy, by), d.Policy)
	}
	return l.Tasks.Approve(ctx, d.ID, d.Digest, by)
}

// PolicyActor is who approved a plan by the approvals policy's rule on behalf of user,
// as the audit log and the plan name them.
func PolicyActor(rule, user string) string { return "policy:" + rule + " (by " + user + ")" }

func (l *Local) reject(ctx context.Context, d Decision) (tasks.PlanRecord, error) {
	if err := decides(ctx); err != nil {
		return tasks.PlanRecord{}, err
	}
	return l.Tasks.Reject(ctx, d.ID, decider(ctx, d.Actor), d.Reason)
}

// decider is who approves, rejects, mutes or unmutes, for the audit log: through the
// team API the authenticated user, through the socket the user of the calling
// process, whatever the client claims; in this process claimed, or the local user.
func decider(ctx context.Context, claimed string) string {
	if c, ok := CallerFrom(ctx); ok {
		return c.User
	}
	if p, ok, _ := peerFrom(ctx); ok {
		return UserName(p.UID)
	}
	if claimed != "" {
		return claimed
	}
	return UserName(os.Getuid())
}

// queuer is the surface that queued a plan, for the audit log: through the team API
// or the socket it is qualified by the authenticated user (or the calling process's)
// unless it names them ("alice", "mcp:alice"), so a client cannot pass itself off as
// the scheduler.
func queuer(ctx context.Context, claimed string) string {
	var name string
	if c, ok := CallerFrom(ctx); ok {
		name = c.User
	} else if p, ok, _ := peerFrom(ctx); ok {
		name = UserName(p.UID)
	} else {
		return claimed
	}
	switch {
	case claimed == "":
		return name
	case claimed == name, strings.HasSuffix(claimed, ":"+name):
		return claimed
	}
	return claimed + " (by " + name + ")"
}

// queuePlan stores a drafted plan as a new pending plan (or returns its item's
// pending plan).
func (l *Local) queuePlan(ctx context.Context, r QueueRequest) (Queued, error) {
	p, created, err := l.Tasks.Queue(ctx, r.Draft, queuer(ctx, r.Actor))
	return Queued{Plan: p, Created: created}, err
}

// audit lists audit records, oldest first.
func (l *Local) audit(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error) {
	return view(ctx, l, func(tx *store.Tx) ([]store.AuditRecord, error) { return tx.AuditLog(f) })
}

// verifyAudit checks the audit chain against its checkpoint, and the plans against
// their audit records, and returns how many records the log holds.
func (l *Local) verifyAudit(ctx context.Context, r AuditVerify) (int, error) {
	if r.Reanchor {
		if _, remote := CallerFrom(ctx); remote {
			return 0, errors.New("audit verify --reanchor is refused through the team API: it accepts the log's head as the new checkpoint, so run it on the daemon's host, against its state directory")
		}
		if err := l.DB.Reanchor(ctx); err != nil {
			return 0, err
		}
	}
	return view(ctx, l, func(tx *store.Tx) (int, error) { return tx.VerifyAudit() })
}

func (l *Local) appendAudit(ctx context.Context, e store.AuditEntry) (store.AuditRecord, error) {
	return update(ctx, l, func(tx *store.Tx) (store.AuditRecord, error) { return tx.AppendAudit(e) })
}

func (l *Local) beginRun(ctx context.Context, r store.Receipt) (uint64, error) {
	return update(ctx, l, func(tx *store.Tx) (uint64, error) { return tx.BeginRun(r) })
}

// endRun records the end of a run and reconciles its findings.
func (l *Local) endRun(ctx context.Context, r RunEnd) (store.RunResult, error) {
	start := time.Now()
	res, err := update(ctx, l, func(tx *store.Tx) (store.RunResult, error) { return tx.EndRun(r.Seq, r.End) })
	if err == nil && l.ObserveRecord != nil {
		l.ObserveRecord(time.Since(start))
	}
	l.observe(res.Receipt, err)
	return res, err
}

// addReceipt records a tick that did not run.
func (l *Local) addReceipt(ctx context.Context, r store.Receipt) (uint64, error) {
	seq, err := update(ctx, l, func(tx *store.Tx) (uint64, error) { return tx.AddReceipt(r) })
	if err == nil {
		r.Seq = seq
	}
	l.observe(r, err)
	return seq, err
}

// mute records a mute; its owner (the decider) is audited as its creator.
func (l *Local) mute(ctx context.Context, m store.Mute) (store.Mute, error) {
	if err := decides(ctx); err != nil {
		return store.Mute{}, err
	}
	m.Owner = decider(ctx, m.Owner)
	return update(ctx, l, func(tx *store.Tx) (store.Mute, error) { return tx.AddMute(m) })
}

// mutes lists the active mutes, or every mute ever made, oldest first.
func (l *Local) mutes(ctx context.Context, r MutesRequest) ([]store.Mute, error) {
	return view(ctx, l, func(tx *store.Tx) ([]store.Mute, error) { return tx.Mutes(r.All) })
}

// unmute lifts an active mute now.
func (l *Local) unmute(ctx context.Context, d Decision) (store.Mute, error) {
	if err := decides(ctx); err != nil {
		return store.Mute{}, err
	}
	return update(ctx, l, func(tx *store.Tx) (store.Mute, error) { return tx.Unmute(d.ID, decider(ctx, d.Actor)) })
}

// baselines lists the baselines of change-tracking items.
func (l *Local) baselines(ctx context.Context, sel store.BaselineSelector) ([]store.Baseline, error) {
	return view(ctx, l, func(tx *store.Tx) ([]store.Baseline, error) { return tx.Baselines(sel) })
}

// acceptBaseline takes what is beyond the selected baselines into them, audited as
// done by the decider.
func (l *Local) acceptBaseline(ctx context.Context, d BaselineDecision) ([]store.ChangeRecord, error) {
	if err := decides(ctx); err != nil {
		return nil, err
	}
	return update(ctx, l, func(tx *store.Tx) ([]store.ChangeRecord, error) {
		return tx.AcceptBaseline(d.Select, decider(ctx, d.Actor), d.Reason)
	})
}

// resetBaseline drops the selected baselines, audited as done by the decider.
func (l *Local) resetBaseline(ctx context.Context, d BaselineDecision) ([]store.ChangeRecord, error) {
	if err := decides(ctx); err != nil {
		return nil, err
	}
	return update(ctx, l, func(tx *store.Tx) ([]store.ChangeRecord, error) {
		return tx.ResetBaseline(d.Select, decider(ctx, d.Actor), d.Reason)
	})
}

// changes lists the change log, newest first.
func (l *Local) changes(ctx context.Context, f store.ChangeFilter) ([]store.ChangeRecord, error) {
	return view(ctx, l, func(tx *store.Tx) ([]store.ChangeRecord, error) { return tx.Changes(f) })
}
