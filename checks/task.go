package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Task is a write: it changes something (scales a deployment, revokes a rule). A task
// never runs straight away: Plan reads live state and describes the change; only an
// approved plan is applied, and Apply re-reads live state first.
type Task interface {
	Spec() Spec
	// Plan reads the live state of the target and describes the change, without
	// changing anything.
	Plan(ctx context.Context, p Params) (Plan, error)
	// Apply re-reads live state, returns a *DriftError (errors.Is(err, ErrDrift)) when
	// it differs from plan.Observed, and otherwise makes exactly the planned change,
	// with optimistic concurrency where the provider offers it.
	Apply(ctx context.Context, plan Plan) (Applied, error)
}

// Risk is how much could go wrong when a plan is applied.
type Risk string

// Risk levels.
const (
	RiskLow    Risk = "LOW"
	RiskMedium Risk = "MEDIUM"
	RiskHigh   Risk = "HIGH"
)

// Plan describes one proposed change: what it targets, the live state it was planned
// against, the change, and what it risks and costs. Observed is what Apply compares
// live state with; put there every field whose change should make the plan stale.
type Plan struct {
	Task   string `json:"task"`
	Params Params `json:"params"`
	// Target names what changes: "deployment/prod/payments", an ARN.
	Target   string            `json:"target"`
	Observed map[string]string `json:"observed"`
	// Change says what will change, in words: "replicas 3 → 5".
	Change string `json:"change"`
	// Utilization is how much of what it has the target uses now, in words ("CPU 4%
	// of requests, memory 21% of requests over 4 pods (metrics.k8s.io)"), or why that
	// is unknown ("utilization unknown: no metrics API"); "" when it does not apply.
	Utilization string `json:"utilization,omitempty"`
	// Dependencies are what serves through, routes to or manages the target: what a
	// person must know before the change.
	Dependencies []Dependency `json:"dependencies,omitempty"`
	Risk         Risk         `json:"risk"`
	// RiskReasons are the facts the risk was judged from, each one shown.
	RiskReasons []string `json:"risk_reasons,omitempty"`
	// MonthlyCostChangeUSD is the estimated change in monthly cost; nil when unknown
	// (CostNote says why).
	MonthlyCostChangeUSD *float64 `json:"monthly_cost_change_usd,omitempty"`
	CostNote             string   `json:"cost_note,omitempty"`
	Preconditions        []string `json:"preconditions,omitempty"`
}

// Dependency is one thing that depends on or manages a plan's target.
type Dependency struct {
	// Resource names it: "service/prod/billing", a target group ARN.
	Resource string `json:"resource"`
	// Relation says how it depends on the target: "selects its pods".
	Relation string `json:"relation"`
}

// Raise sets the plan's risk to level when that is higher, and records why.
func (p *Plan) Raise(level Risk, reason string) {
	if riskRank[level] > riskRank[p.Risk] {
		p.Risk = level
	}
	p.RiskReasons = append(p.RiskReasons, reason)
}

var riskRank = map[Risk]int{"": 0, RiskLow: 1, RiskMedium: 2, RiskHigh: 3}

// Applied is what Apply did.
type Applied struct {
	Summary string            `json:"summary"`
	After   map[string]string `json:"after,omitempty"`
}

// ErrDrift is matched by every *DriftError.
var ErrDrift = errors.New("live state drifted from the plan")

// DriftError says live state no longer matches what a plan observed.
type DriftError struct {
	Target string
	// Fields lists what differs: name, planned value, live value.
	Fields []Drift
}

// Drift is one field that differs between a plan and live state. Live is "" when the
// target is gone.
type Drift struct {
	Field, Planned, Live string
}

func (e *DriftError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, d := range e.Fields {
		live := d.Live
		if live == "" {
			live = "(gone)"
		}
		parts[i] = fmt.Sprintf("%s was %q when planned, is %q now", d.Field, d.Planned, live)
	}
	return fmt.Sprintf("%s changed since the plan was made: %s; make a new plan", e.Target, strings.Join(parts, "; "))
}

// Is makes errors.Is(err, ErrDrift) true for every *DriftError.
func (e *DriftError) Is(target error) bool { return target == ErrDrift }

// CompareObserved returns a *DriftError listing every key of planned whose live value
// differs, or nil when they all match. Tasks call it at the start of Apply.
func CompareObserved(target string, planned, live map[string]string) error {
	var fields []Drift
	for _, k := range sortedKeys(planned) {
		if live[k] != planned[k] {
			fields = append(fields, Drift{Field: k, Planned: planned[k], Live: live[k]})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return &DriftError{Target: target, Fields: fields}
}

// Remediator is a Task that can aim itself at a finding. A check item with fix=TASK
// queues a plan of that task for every new finding the task can fix.
type Remediator interface {
	// FixParams returns the task parameters that target the finding's resource, or
	// false when the task cannot fix this finding.
	FixParams(f Finding) (map[string]string, bool)
}
