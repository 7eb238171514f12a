package view

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/ask"
	"github.com/clankerd/clankerd/internal/route"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
)

// Answer is what a question got: where it was routed, whether everything it checked
// is healthy, the results of the checks it ran (or the plan a change request queued),
// their open findings in one flat list, and the answer in words.
type Answer struct {
	Question string        `json:"question"`
	RoutedBy string        `json:"routed_by"`
	Routes   []route.Route `json:"routes"`
	// Healthy is true only when at least one check ran and every check passed (or
	// failed only with findings that do not fail a run: info, muted).
	Healthy bool `json:"healthy"`
	// UnhealthyReason says why Healthy is false.
	UnhealthyReason string   `json:"unhealthy_reason,omitempty"`
	Results         []Result `json:"results"`
	// Findings are the open findings of every result (resolved ones are left out),
	// for pipelines: `-o findings` prints only them.
	Findings []Finding `json:"findings"`
	Plan     *PlanRef  `json:"plan,omitempty"`
	// Preview is the plan a change request would queue, when it was not queued.
	Preview *Preview `json:"preview,omitempty"`
	// Changes are the change log of the change-tracking checks the question ran,
	// since ChangesSince, newest first.
	Changes      []Change  `json:"changes,omitempty"`
	ChangesSince time.Time `json:"changes_since,omitzero"`
	Answer       string    `json:"answer" view:"multiline"`
}

// NewAnswer shapes the answer to a question.
func NewAnswer(a ask.Answer) Answer {
	out := Answer{Question: a.Question, RoutedBy: a.RoutedBy, Routes: a.Routes, Results: each(a.Outcomes, result), Answer: a.Answer,
		Changes: each(a.Changes, func(c store.ChangeRecord) Change { return Change{c} }), ChangesSince: a.ChangesSince}
	if out.Routes == nil {
		out.Routes = []route.Route{}
	}
	if a.Plan != nil {
		out.Plan = planRef(*a.Plan, a.PlanCreated)
	}
	if a.Preview != nil {
		p := NewPreview(*a.Preview, a.Question, a.Estimate)
		out.Preview = &p
	}
	out.Healthy, out.UnhealthyReason = health(a.Outcomes)
	out.Findings = openFindings(out.Results)
	scrub(&out)
	return out
}

// health is whether the runs are healthy, and why not: false when a check failed with
// a finding that fails a run (store.FindingRecord.Fails, as `clankerd check`'s exit
// code), could not be evaluated or was skipped, and when none ran at all (a change
// request runs none): "nothing was checked" is not "all is well".
func health(outcomes []runner.Outcome) (bool, string) {
	var failed, errored, skipped int
	for _, o := range outcomes {
		switch {
		case o.Err != nil || o.Receipt.Status == checks.Error:
			errored++
		case o.Receipt.Status == checks.Skipped:
			skipped++
		case o.Receipt.Status == checks.Fail && slices.ContainsFunc(o.Findings, func(f store.RunFinding) bool { return f.Fails() }):
			failed++
		}
	}
	var why []string
	for _, c := range []struct {
		n    int
		what string
	}{{failed, "failed"}, {errored, "could not be evaluated"}, {skipped, "skipped"}} {
		if c.n > 0 {
			why = append(why, fmt.Sprintf("%d check(s) %s", c.n, c.what))
		}
	}
	switch {
	case len(why) > 0:
		return false, strings.Join(why, ", ")
	case len(outcomes) == 0:
		return false, "no check was evaluated"
	}
	return true, ""
}

// openFindings is the findings of every result still open, in result order.
func openFindings(rs []Result) []Finding {
	out := []Finding{}
	for _, r := range rs {
		for _, f := range r.Findings {
			if f.State.Open() {
				out = append(out, f)
			}
		}
	}
	return out
}

// WriteText writes the answer for a person: the routes, the answer, then the results.
func (a Answer) WriteText(w io.Writer) {
	for _, r := range a.Routes {
		fmt.Fprintf(w, "→ %s %s (%s)\n", r.Check, paramText(r.Params), r.Why)
	}
	fmt.Fprintln(w, a.Answer)
	if a.Preview != nil {
		fmt.Fprintln(w)
		a.Preview.WriteText(w)
	}
	if len(a.Results) > 0 {
		fmt.Fprintln(w)
		counted(a.Results).WriteText(w)
	}
}
