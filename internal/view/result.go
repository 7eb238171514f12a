package view

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/runner"
)

// Result is one item's run: its status, error, findings and the plans it queued.
type Result struct {
	Check string `json:"check"`
	// Item is the FILE:LINE of the item (or "ask", "mcp"); Key its identity.
	Item string `json:"item"`
	Key  string `json:"key"`
	// Text is the plain-language item as written, for questions.
	Text       string        `json:"text,omitempty"`
	Status     checks.Status `json:"status"`
	DurationMS int64         `json:"duration_ms"`
	Error      string        `json:"error" view:"multiline"`
	Plan       *PlanRef      `json:"plan,omitempty"`
	FixPlans   []PlanRef     `json:"fix_plans,omitempty"`
	Findings   []Finding     `json:"findings"`
	// Baseline says what a change-tracking check's run did with its item's baseline
	// ("recorded now with 12 facts; …"), empty for other checks.
	Baseline string `json:"baseline,omitempty"`
	// ExplainErrors say why the model explained no finding (over budget, no model).
	ExplainErrors []string `json:"explain_errors,omitempty"`
}

// result shapes the outcome of one run; NewResults and NewAnswer clean it.
func result(o runner.Outcome) Result {
	r := Result{
		Check: o.Item.ID, Item: o.Item.Pos(), Key: o.Item.Key, Status: o.Receipt.Status,
		DurationMS: o.Duration().Milliseconds(), Error: o.Receipt.Error, Findings: []Finding{},
		ExplainErrors: o.ExplainErrors, Baseline: o.Receipt.Evidence["baseline"],
	}
	if o.Item.Kind == heartbeat.ItemQuestion {
		r.Text = o.Item.Text
	}
	if o.Err != nil {
		r.Status, r.Error = checks.Error, errors.Join(errors.New(o.Receipt.Error), o.Err).Error()
	}
	if o.Plan != nil {
		r.Plan = planRef(*o.Plan, o.PlanCreated)
	}
	for _, p := range o.FixPlans {
		r.FixPlans = append(r.FixPlans, *planRef(p, true))
	}
	for _, f := range o.Findings {
		r.Findings = append(r.Findings, finding(f.FindingRecord, o.Explanations[f.Fingerprint]))
	}
	return r
}

// Results is what `clankerd check` prints: every item's result and a count per status.
type Results struct {
	Results []Result              `json:"results"`
	Summary map[checks.Status]int `json:"summary"`
}

// NewResults shapes the outcomes of a round of runs.
func NewResults(outcomes []runner.Outcome) Results {
	rs := each(outcomes, result)
	scrub(&rs) // before counting: the statuses are the summary's keys
	return counted(rs)
}

// counted is the results with their count per status.
func counted(rs []Result) Results {
	out := Results{Results: rs, Summary: map[checks.Status]int{}}
	for _, r := range rs {
		out.Summary[r.Status]++
	}
	return out
}

// WriteText writes the results for a person: a line per item, its error, plans and
// findings below it, and the counts.
func (rs Results) WriteText(w io.Writer) {
	for _, r := range rs.Results {
		what := r.Check
		if what == "" {
			what = fmt.Sprintf("%q", OneLine(r.Text, 50))
		}
		fmt.Fprintf(w, "%-7s %s  %s (%dms)\n", strings.ToUpper(string(r.Status)), what, r.Item, r.DurationMS)
		if r.Error != "" {
			fmt.Fprintf(w, "        %s\n", indent(r.Error, "        "))
		}
		if r.Baseline != "" {
			fmt.Fprintf(w, "        baseline %s\n", r.Baseline)
		}
		if p := r.Plan; p != nil {
			verb := "queued"
			if !p.Created {
				verb = "already pending"
			}
			fmt.Fprintf(w, "        plan %s %s: %s: %s (risk %s); approve with: %s\n", p.ID, verb, p.Target, p.Change, p.Risk, p.ApproveWith)
		}
		for _, f := range r.Findings {
			fmt.Fprintf(w, "        [%s] %s %s: %s\n", f.StateText(), f.Severity, f.Resource, f.Summary)
			if f.Explanation != "" {
				fmt.Fprintf(w, "          model: %s\n", indent(f.Explanation, "          "))
			}
		}
		for _, e := range r.ExplainErrors {
			fmt.Fprintf(w, "        not explained: %s\n", e)
		}
		for _, p := range r.FixPlans {
			fmt.Fprintf(w, "        fix queued as plan %s: %s: %s (risk %s); approve with: %s\n", p.ID, p.Target, p.Change, p.Risk, p.ApproveWith)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d errors, %d skipped\n",
		rs.Summary[checks.Pass], rs.Summary[checks.Fail], rs.Summary[checks.Error], rs.Summary[checks.Skipped])
}

// JUnit XML, as CI systems read it: one suite per heartbeat file, one case per item.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes the results as JUnit XML.
func (rs Results) WriteJUnit(w io.Writer) error {
	var suites junitSuites
	index := map[string]int{}
	for _, r := range rs.Results {
		file := r.Item
		if i := strings.LastIndex(file, ":"); i >= 0 {
			file = file[:i]
		}
		i, ok := index[file]
		if !ok {
			i = len(suites.Suites)
			index[file] = i
			suites.Suites = append(suites.Suites, junitSuite{Name: file})
		}
		s := &suites.Suites[i]
		name := r.Check
		if name == "" {
			name = r.Text
		}
		c := junitCase{Name: name + " (" + r.Item + ")", Classname: file, Time: fmt.Sprintf("%.3f", float64(r.DurationMS)/1000)}
		s.Tests++
		switch r.Status {
		case checks.Fail:
			s.Failures++
			var lines []string
			for _, f := range r.Findings {
				lines = append(lines, fmt.Sprintf("[%s] %s %s: %s", f.State, f.Severity, f.Resource, f.Summary))
			}
			c.Failure = &junitMessage{Message: fmt.Sprintf("%d finding(s)", len(r.Findings)), Body: strings.Join(lines, "\n")}
		case checks.Error:
			s.Errors++
			c.Error = &junitMessage{Message: OneLine(r.Error, 200), Body: r.Error}
		case checks.Skipped:
			s.Skipped++
			c.Skipped = &junitMessage{Message: OneLine(r.Error, 200)}
		}
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suites); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
