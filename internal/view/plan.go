package view

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/tasks"
)

// Plan is a plan as every output shows it: what it changes, what it saw, its risk and
// cost, where it is in its state machine and the command a person approves it with.
type Plan struct {
	ID                   string              `json:"id"`
	Task                 string              `json:"task"`
	Params               map[string]string   `json:"params"`
	Target               string              `json:"target"`
	State                tasks.PlanState     `json:"state"`
	Risk                 checks.Risk         `json:"risk"`
	RiskReasons          []string            `json:"risk_reasons,omitempty"`
	Observed             map[string]string   `json:"observed"`
	Change               string              `json:"change"`
	Utilization          string              `json:"utilization,omitempty"`
	Dependencies         []checks.Dependency `json:"dependencies,omitempty"`
	MonthlyCostChangeUSD *float64            `json:"monthly_cost_change_usd,omitempty"`
	CostNote             string              `json:"cost_note,omitempty"`
	Preconditions        []string            `json:"preconditions,omitempty"`
	Source               string              `json:"source"`
	CreatedAt            time.Time           `json:"created_at"`
	ExpiresAt            time.Time           `json:"expires_at"`
	UpdatedAt            time.Time           `json:"updated_at"`
	DecidedBy            string              `json:"decided_by,omitempty"`
	Reason               string              `json:"reason,omitempty"`
	Result               string              `json:"result,omitempty"`
	Error                string              `json:"error,omitempty" view:"multiline"`
	Digest               string              `json:"digest"`
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
		Utilization: p.Utilization, Dependencies: p.Dependencies,
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

// WritePlan writes one plan for a person to review, in the order a person decides
// in: what it changes and what depends on that, the state it was planned against,
// what it costs, its risk with every reason, and how long it waits for approval and
// the command that gives it.
func WritePlan(w io.Writer, p Plan) {
	fmt.Fprintf(w, "PLAN %s (%s): %s %s\n", p.ID, p.State, p.Task, p.identity)

	fmt.Fprintln(w, "\nResources affected:")
	rows := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	rows.row("  "+p.Target, p.Change)
	for _, d := range p.Dependencies {
		rows.row("  "+d.Resource, d.Relation)
	}
	_ = rows.flush()

	fmt.Fprintln(w, "\nCurrent state:")
	if p.Utilization != "" {
		fmt.Fprintf(w, "  %s\n", p.Utilization)
	}
	for _, k := range slices.Sorted(maps.Keys(p.Observed)) {
		fmt.Fprintf(w, "  %s = %s\n", k, p.Observed[k])
	}

	fmt.Fprintf(w, "\nEstimated cost change: %s\n", p.costText(true))

	fmt.Fprintf(w, "\nRisk: %s", p.Risk)
	for i, r := range p.RiskReasons {
		if i == 0 {
			fmt.Fprintf(w, " — %s", r)
			continue
		}
		fmt.Fprintf(w, "\n%*s— %s", len("Risk: ")+len(p.Risk)+1, "", r)
	}
	fmt.Fprintln(w)
	for _, pc := range p.Preconditions {
		fmt.Fprintf(w, "Precondition: %s\n", pc)
	}

	fmt.Fprintf(w, "\nSource: %s; created %s\n", p.Source, When(p.CreatedAt))
	if p.DecidedBy != "" {
		fmt.Fprintln(w, strings.TrimSpace("Decided: by "+p.DecidedBy+" "+p.Reason))
	}
	if p.Result != "" {
		fmt.Fprintf(w, "Result: %s\n", p.Result)
	}
	if p.Error != "" {
		fmt.Fprintf(w, "Error: %s\n", indent(p.Error, "       "))
	}
	if p.State != tasks.PlanPending {
		return
	}
	fmt.Fprintf(w, "Expires: %s\n", When(p.ExpiresAt))
	fmt.Fprintf(w, "Approve: %s\n", p.ApproveWith)
}

// costText is the plan's estimated monthly cost change for a person: the amount (with
// its note when withNote), or "unknown" and why.
func (p Plan) costText(withNote bool) string {
	switch {
	case p.MonthlyCostChangeUSD != nil && p.CostNote != "" && withNote:
		return fmt.Sprintf("%+.2f USD/month (%s)", *p.MonthlyCostChangeUSD, p.CostNote)
	case p.MonthlyCostChangeUSD != nil:
		return fmt.Sprintf("%+.2f USD/month", *p.MonthlyCostChangeUSD)
	case p.CostNote != "":
		return "unknown: " + p.CostNote
	}
	return "unknown"
}
