// Package control holds the operations the CLI performs on clankerd's state (list
// runs, findings and plans, approve, audit), run in-process against the database when
// no daemon is running, or served by the daemon on a unix socket (mode 0600) when it
// holds the database.
package control

import (
	"context"
	"time"

	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// Local runs the operations directly against an open database.
type Local struct {
	DB    *store.DB
	Tasks *tasks.Service
	Now   func() time.Time
	// Daemon describes the running daemon when Local serves one; nil otherwise.
	Daemon func() *DaemonInfo
	// Observe, when set, is called with every receipt recorded as ended (EndRun) or
	// as a tick that did not run (AddReceipt), for metrics.
	Observe func(store.Receipt)
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
}

// TargetInfo describes a configured notification target, secrets redacted.
type TargetInfo struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Where       string `json:"where"`
	Source      string `json:"source"`
	MinSeverity string `json:"min_severity,omitempty"`
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

// Status reports the state.
func (l *Local) Status(ctx context.Context) (Status, error) {
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
		st.Targets, err = tx.TargetStates()
		return err
	})
	return st, err
}

// Runs lists receipts, newest first.
func (l *Local) Runs(ctx context.Context, f store.RunFilter) (out []store.Receipt, err error) {
	err = l.DB.View(ctx, func(tx *store.Tx) error {
		out, err = tx.Runs(f)
		return err
	})
	return out, err
}

// Findings lists findings.
func (l *Local) Findings(ctx context.Context, f store.FindingFilter) (out []store.FindingRecord, err error) {
	err = l.DB.View(ctx, func(tx *store.Tx) error {
		out, err = tx.Findings(f)
		return err
	})
	return out, err
}

// Diff lists what is new, changed and resolved since each item's previous run.
func (l *Local) Diff(ctx context.Context) (out []store.FindingRecord, err error) {
	err = l.DB.View(ctx, func(tx *store.Tx) error {
		out, err = tx.Diff()
		return err
	})
	return out, err
}

// Plans lists plans, newest first. Expired pending plans are shown as expired.
func (l *Local) Plans(ctx context.Context, f tasks.PlanFilter) (out []tasks.PlanRecord, err error) {
	err = l.DB.View(ctx, func(tx *store.Tx) error {
		out, err = tx.Plans(f)
		return err
	})
	now := l.now()
	for i := range out {
		out[i].State = out[i].EffectiveState(now)
	}
	return out, err
}

// Plan returns one plan.
func (l *Local) Plan(ctx context.Context, id string) (p tasks.PlanRecord, err error) {
	err = l.DB.View(ctx, func(tx *store.Tx) error {
		p, err = tx.Plan(id)
		return err
	})
	p.State = p.EffectiveState(l.now())
	return p, err
}

// Approve approves and applies a plan.
func (l *Local) Approve(ctx context.Context, id, actor string) (tasks.PlanRecord, error) {
	return l.Tasks.Approve(ctx, id, actor)
}

// Reject rejects a plan.
func (l *Local) Reject(ctx context.Context, id, actor, reason string) (tasks.PlanRecord, error) {
	return l.Tasks.Reject(ctx, id, actor, reason)
}

// Audit lists audit records, oldest first.
func (l *Local) Audit(ctx context.Context, f store.AuditFilter) (out []store.AuditRecord, err error) {
	err = l.DB.View(ctx, func(tx *store.Tx) error {
		out, err = tx.AuditLog(f)
		return err
	})
	return out, err
}

// VerifyAudit checks the audit chain and returns how many records it holds.
func (l *Local) VerifyAudit(ctx context.Context) (n int, err error) {
	err = l.DB.View(ctx, func(tx *store.Tx) error {
		n, err = tx.VerifyAudit()
		return err
	})
	return n, err
}

// AppendAudit appends an audit record.
func (l *Local) AppendAudit(ctx context.Context, e store.AuditEntry) (rec store.AuditRecord, err error) {
	err = l.DB.Update(ctx, func(tx *store.Tx) error {
		rec, err = tx.AppendAudit(e)
		return err
	})
	return rec, err
}

// BeginRun records the start of a run.
func (l *Local) BeginRun(ctx context.Context, r store.Receipt) (seq uint64, err error) {
	err = l.DB.Update(ctx, func(tx *store.Tx) error {
		seq, err = tx.BeginRun(r)
		return err
	})
	return seq, err
}

// EndRun records the end of a run and reconciles its findings.
func (l *Local) EndRun(ctx context.Context, seq uint64, end store.RunEnd) (res store.RunResult, err error) {
	err = l.DB.Update(ctx, func(tx *store.Tx) error {
		res, err = tx.EndRun(seq, end)
		return err
	})
	l.observe(res.Receipt, err)
	return res, err
}

// AddReceipt records a tick that did not run.
func (l *Local) AddReceipt(ctx context.Context, r store.Receipt) (seq uint64, err error) {
	err = l.DB.Update(ctx, func(tx *store.Tx) error {
		seq, err = tx.AddReceipt(r)
		return err
	})
	l.observe(r, err)
	return seq, err
}

// QueuePlan stores a drafted plan as pending (or returns its item's pending plan).
func (l *Local) QueuePlan(ctx context.Context, p tasks.PlanRecord, actor string) (tasks.PlanRecord, bool, error) {
	return l.Tasks.Queue(ctx, p, actor)
}
