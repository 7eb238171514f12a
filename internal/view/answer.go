package view

import (
	"fmt"
	"io"

	"github.com/clankerd/clankerd/internal/ask"
)

// Route is a check or task a question was routed to, with the parameters taken from
// the question and why.
type Route struct {
	Check  string            `json:"check"`
	Kind   string            `json:"kind"`
	Params map[string]string `json:"params"`
	Why    string            `json:"why"`
	Score  float64           `json:"score"`
}

// Answer is what a question got: where it was routed, the results of the checks it
// ran (or the plan a change request queued), and the answer in words.
type Answer struct {
	Question string   `json:"question"`
	RoutedBy string   `json:"routed_by"`
	Routes   []Route  `json:"routes"`
	Results  []Result `json:"results"`
	Plan     *PlanRef `json:"plan,omitempty"`
	Answer   string   `json:"answer"`
}

// NewAnswer shapes the answer to a question.
func NewAnswer(a ask.Answer) Answer {
	out := Answer{Question: clean(a.Question), RoutedBy: a.RoutedBy, Routes: []Route{}, Results: []Result{}, Answer: clean(a.Answer)}
	for _, r := range a.Routes {
		params := cleanMap(r.Params)
		if params == nil {
			params = map[string]string{}
		}
		out.Routes = append(out.Routes, Route{Check: r.Check, Kind: r.Kind, Params: params, Why: clean(r.Why), Score: r.Score})
	}
	for _, o := range a.Outcomes {
		out.Results = append(out.Results, NewResult(o))
	}
	if a.Plan != nil {
		ref := NewPlanRef(*a.Plan, a.PlanCreated)
		out.Plan = &ref
	}
	return out
}

// WriteText writes the answer for a person: the routes, the answer, then the results.
func (a Answer) WriteText(w io.Writer) {
	for _, r := range a.Routes {
		fmt.Fprintf(w, "→ %s %s (%s)\n", r.Check, paramText(r.Params), r.Why)
	}
	fmt.Fprintln(w, a.Answer)
	if len(a.Results) > 0 {
		fmt.Fprintln(w)
		counted(a.Results).WriteText(w)
	}
}
