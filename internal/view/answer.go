package view

import (
	"fmt"
	"io"

	"github.com/clankerd/clankerd/internal/ask"
	"github.com/clankerd/clankerd/internal/route"
)

// Answer is what a question got: where it was routed, the results of the checks it
// ran (or the plan a change request queued), and the answer in words.
type Answer struct {
	Question string        `json:"question"`
	RoutedBy string        `json:"routed_by"`
	Routes   []route.Route `json:"routes"`
	Results  []Result      `json:"results"`
	Plan     *PlanRef      `json:"plan,omitempty"`
	// Preview is the plan a change request would queue, when it was not queued.
	Preview *Preview `json:"preview,omitempty"`
	Answer  string   `json:"answer" view:"multiline"`
}

// NewAnswer shapes the answer to a question.
func NewAnswer(a ask.Answer) Answer {
	out := Answer{Question: a.Question, RoutedBy: a.RoutedBy, Routes: a.Routes, Results: each(a.Outcomes, result), Answer: a.Answer}
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
	scrub(&out)
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
