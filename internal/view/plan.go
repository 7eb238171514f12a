package view

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/tasks"
)

// Plan is a plan as every output shows it: what it changes, what it saw, its risk and
// cost, where it is in its state machine and the command a person approves it with.
type Plan struct {
	ID                   string            `json:"id"`
	Task                 string            `json:"task"`
	Params               map[string]string `json:"params"`
	Target               string            `json:"target"`
	State                tasks.PlanState   `json:"state"`
	Risk                 checks.Risk       `json:"risk"`
	RiskReasons          []string          `json:"risk_reasons,omitempty"`
	Observed             map[string]string `json:"observed"`
	Change               string            `json:"change"`
	MonthlyCostChangeUSD *float64          `json:"monthly_cost_change_usd,omitempty"`
	CostNote             string            `json:"cost_note,omitempty"`
	Preconditions        []string          `json:"preconditions,omitempty"`
	Source               string            `json:"source"`
	CreatedAt            time.Time         `json:"created_at"`
	ExpiresAt            time.Time         `json:"expires_at"`
	UpdatedAt            time.Time         `json:"updated_at"`
	DecidedBy            string            `json:"decided_by,omitempty"`
	Reason               string            `json:"reason,omitempty"`
	Result               string            `json:"result,omitempty"`
	Error                string            `json:"error,omitempty" view:"multiline"`
	Digest               string            `json:"digest"`
	// ApproveWith is the command that applies it; only a person runs it.
	ApproveWith string `json:"approve_with"`
	// identity is the parameters that make the plan what it is, as the heartbeat
	// writes them.
	identity string
}

// NewPlan shapes a stored plan.
func NewPlan(p tasks.PlanRecord) Plan {
	v := Plan{
		ID: p.ID, Task: p.Task, Params: p.Params.Values(), Target: p.Target, State: p.State, Risk: p.Risk,
		RiskReasons: p.RiskReasons, Observed: p.Observed, Change: p.Change,
		MonthlyCostChangeUSD: p.MonthlyCostChangeUSD, CostNote: p.CostNote, Preconditions: p.Preconditions,
		Source: p.Source, CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt, UpdatedAt: p.UpdatedAt,
		DecidedBy: p.DecidedBy, Reason: p.Reason, Error: p.Error, Digest: p.Digest,
		ApproveWith: "clankerd approve " + p.ID, identity: cleanLine(p.Params.Identity()),
	}
	if v.Params == nil {
		v.Params = map[string]string{}
	}
	if v.Observed == nil {
		v.Observed = map[string]string{}
	}
	if p.Result != nil {
		v.Result = p.Result.Summary
	}
	scrub(&v)
	return v
}

// Plans shapes stored plans.
func Plans(ps []tasks.PlanRecord) []Plan { return each(ps, NewPlan) }

// PlanRef is a plan named in a result or an answer: enough to review and approve it.
type PlanRef struct {
	ID    string          `json:"id"`
	State tasks.PlanState `json:"state"`
	// Created is false when the item already had this plan pending.
	Created bool        `json:"created"`
	Target  string      `json:"target"`
	Change  string      `json:"change"`
	Risk    checks.Risk `json:"risk"`
	// MonthlyCostChangeUSD is the plan's estimate, absent when unknown.
	MonthlyCostChangeUSD *float64 `json:"monthly_cost_change_usd,omitempty"`
	ApproveWith          string   `json:"approve_with"`
}

// planRef names a plan; created says whether this run queued it. The result or answer
// that holds it cleans it.
func planRef(p tasks.PlanRecord, created bool) *PlanRef {
	return &PlanRef{ID: p.ID, State: p.State, Created: created, Target: p.Target, Change: p.Change, Risk: p.Risk,
		MonthlyCostChangeUSD: p.MonthlyCostChangeUSD, ApproveWith: "clankerd approve " + p.ID}
}

// WritePlans writes plans as a table.
func WritePlans(w io.Writer, ps []Plan) error {
	if len(ps) == 0 {
		_, err := fmt.Fprintln(w, "no plans")
		return err
	}
	t := newTable(w, "ID", "STATE", "RISK", "TASK", "TARGET", "CHANGE", "EXPIRES")
	for _, p := range ps {
		t.row(p.ID, string(p.State), string(p.Risk), p.Task, OneLine(p.Target, 50), OneLine(p.Change, 50), When(p.ExpiresAt))
	}
	return t.flush()
}

// WritePlan writes one plan for a person to review.
func WritePlan(w io.Writer, p Plan) {
	fmt.Fprintf(w, "plan %s (%s)\n", p.ID, p.State)
	fmt.Fprintf(w, "  task:     %s %s\n", p.Task, p.identity)
	fmt.Fprintf(w, "  target:   %s\n", p.Target)
	fmt.Fprintf(w, "  change:   %s\n", p.Change)
	fmt.Fprintf(w, "  risk:     %s\n", p.Risk)
	for _, r := range p.RiskReasons {
		fmt.Fprintf(w, "            - %s\n", r)
	}
	switch {
	case p.MonthlyCostChangeUSD != nil:
		fmt.Fprintf(w, "  cost:     %+.2f USD/month (estimate)", *p.MonthlyCostChangeUSD)
		if p.CostNote != "" {
			fmt.Fprintf(w, "; %s", p.CostNote)
		}
		fmt.Fprintln(w)
	case p.CostNote != "":
		fmt.Fprintf(w, "  cost:     unknown: %s\n", p.CostNote)
	}
	fmt.Fprintln(w, "  observed:")
	for _, k := range slices.Sorted(maps.Keys(p.Observed)) {
		fmt.Fprintf(w, "            %s = %s\n", k, p.Observed[k])
	}
	for _, pc := range p.Preconditions {
		fmt.Fprintf(w, "  precondition: %s\n", pc)
	}
	fmt.Fprintf(w, "  source:   %s\n", p.Source)
	fmt.Fprintf(w, "  created:  %s; expires %s\n", When(p.CreatedAt), When(p.ExpiresAt))
	if p.DecidedBy != "" {
		fmt.Fprintf(w, "  decided:  by %s %s\n", p.DecidedBy, p.Reason)
	}
	if p.Result != "" {
		fmt.Fprintf(w, "  result:   %s\n", p.Result)
	}
	if p.Error != "" {
		fmt.Fprintf(w, "  error:    %s\n", indent(p.Error, "            "))
	}
}
