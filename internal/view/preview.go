package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/clankerd/clankerd/tasks"
)

// Preview is the plan a change request would queue, drafted from live state and
// queued nowhere: what it would change, what it saw, its risk and cost, and the
// command that queues it.
type Preview struct {
	Plan
	// QueueWith is the command that queues this plan for a person to approve.
	QueueWith string `json:"queue_with"`
	// Estimate is true when the question asked what the change would cost.
	Estimate bool `json:"estimate,omitempty"`
}

// NewPreview shapes the draft a change request would queue; question is what was
// asked, for the command that queues it (cleaned before it is quoted, so a secret in
// it is masked whole).
func NewPreview(d tasks.Draft, question string, estimate bool) Preview {
	p := NewPlan(tasks.PlanRecord{Item: d.Item, Source: d.Source, Plan: d.Plan, State: statePreview})
	p.ApproveWith = ""
	v := Preview{Plan: p, QueueWith: "clankerd ask " + shellQuote(cleanLine(question)) + " --maker", Estimate: estimate}
	scrub(&v)
	return v
}

// statePreview is the state a preview shows: it is no plan of the state machine yet.
const statePreview tasks.PlanState = "preview"

// WriteText writes the preview for a person: its cost first when that was asked, the
// plan, and the command that queues it.
func (p Preview) WriteText(w io.Writer) {
	if p.Estimate {
		cost := p.costText(false)
		if cost == "unknown" {
			cost += ": the task gives no estimate"
		}
		fmt.Fprintf(w, "estimated cost: %s\n", cost)
	}
	WritePlan(w, p.Plan)
	fmt.Fprintf(w, "nothing was queued; to queue it: %s\n", p.QueueWith)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
