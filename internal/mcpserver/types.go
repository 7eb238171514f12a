package mcpserver

import (
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/ask"
	"github.com/clankerd/clankerd/internal/redact"
	"github.com/clankerd/clankerd/internal/route"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// Answer is what the question and run tools return.
type Answer struct {
	Question string        `json:"question"`
	RoutedBy string        `json:"routed_by"`
	Routes   []route.Route `json:"routes"`
	Results  []Result      `json:"results"`
	Plan     *Plan         `json:"plan,omitempty"`
	Answer   string        `json:"answer"`
}

// Result is one check's run.
type Result struct {
	Check    string        `json:"check"`
	Status   checks.Status `json:"status"`
	Error    string        `json:"error,omitempty"`
	Findings []Finding     `json:"findings"`
}

// Finding is one finding, with secrets redacted: an agent is a model.
type Finding struct {
	Fingerprint string             `json:"fingerprint"`
	Check       string             `json:"check,omitempty"`
	Resource    string             `json:"resource"`
	Problem     string             `json:"problem"`
	Severity    checks.Severity    `json:"severity"`
	State       store.FindingState `json:"state"`
	Summary     string             `json:"summary"`
	Evidence    map[string]string  `json:"evidence,omitempty"`
	Fix         string             `json:"fix,omitempty"`
	FirstSeen   time.Time          `json:"first_seen,omitzero"`
	LastSeen    time.Time          `json:"last_seen,omitzero"`
}

// Plan is a plan as agents see it.
type Plan struct {
	ID       string            `json:"id"`
	Task     string            `json:"task"`
	State    tasks.PlanState   `json:"state"`
	Target   string            `json:"target"`
	Change   string            `json:"change"`
	Risk     checks.Risk       `json:"risk"`
	Observed map[string]string `json:"observed,omitempty"`
	Expires  time.Time         `json:"expires,omitzero"`
	Approve  string            `json:"approve_with"`
}

func toAnswer(a ask.Answer) Answer {
	out := Answer{Question: a.Question, RoutedBy: a.RoutedBy, Routes: a.Routes, Results: []Result{}, Answer: redact.String(a.Answer)}
	if out.Routes == nil {
		out.Routes = []route.Route{}
	}
	for _, o := range a.Outcomes {
		r := Result{Check: o.Item.ID, Status: o.Receipt.Status, Error: redact.String(o.Receipt.Error), Findings: []Finding{}}
		if o.Err != nil {
			r.Status, r.Error = checks.Error, redact.String(o.Err.Error())
		}
		for _, f := range o.Findings {
			r.Findings = append(r.Findings, toFinding(f.FindingRecord))
		}
		out.Results = append(out.Results, r)
	}
	if a.Plan != nil {
		p := toPlan(*a.Plan)
		out.Plan = &p
	}
	return out
}

func toFinding(f store.FindingRecord) Finding {
	return Finding{Fingerprint: f.Fingerprint, Check: f.Check, Resource: f.Resource, Problem: f.Problem, Severity: f.Severity, State: f.State,
		Summary: redact.String(f.Summary), Evidence: redact.Map(f.Evidence), Fix: redact.String(f.Fix), FirstSeen: f.FirstSeen, LastSeen: f.LastSeen}
}

func toPlan(p tasks.PlanRecord) Plan {
	return Plan{ID: p.ID, Task: p.Task, State: p.State, Target: p.Target, Change: p.Change, Risk: p.Risk, Observed: redact.Map(p.Observed),
		Expires: p.ExpiresAt, Approve: "clankerd approve " + p.ID}
}
