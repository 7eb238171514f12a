package main

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/redact"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

func (a *cmdline) checkCommand() *cobra.Command {
	var output string
	var only []string
	var planExpiry time.Duration
	var mf modelFlags
	cmd := &cobra.Command{
		Use:   "check [FILE...]",
		Short: "Run every item of the heartbeat files once, now, and record the results",
		Long: `check is one tick of everything, now: it runs every check once and fires every task
item once (queueing its plan, never applying it), records the runs like the daemon does,
and prints the results with each finding's state (new, unchanged, changed, resolved).

Exit codes: 0 all passed or were skipped, 1 a check failed, 2 a check could not be
evaluated (error) and none failed, 3 bad input (invalid heartbeat or flags).`,
		ValidArgsFunction: markdownFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			provs, err := a.newProviders(false)
			if err != nil {
				return err
			}
			defer provs.Close()
			reg := provs.registry
			files, err := heartbeat.Load(heartbeatArgs(args), reg)
			if err != nil {
				return withCode(exitBadInput, err)
			}
			provs.resolve(cmd.Context(), files)
			items, err := selectItems(files, only)
			if err != nil {
				return withCode(exitBadInput, err)
			}
			afterRun, err := mf.afterRun(a.stateDir, a.logger, false)
			if err != nil {
				return withCode(exitBadInput, err)
			}
			var outcomes []runner.Outcome
			err = a.withBackend(cmd.Context(), reg, func(b control.Backend) error {
				r := app.NewRunner(reg, b, app.RunnerOptions{Actor: actorName(), PlanExpiry: planExpiry, AfterRun: afterRun, Logger: a.logger})
				outcomes = r.RunAll(cmd.Context(), items)
				return nil
			})
			if err != nil {
				return err
			}
			if err := a.printOutcomes(outcomes, output); err != nil {
				return err
			}
			if code := outcomeExitCode(outcomes); code != exitOK {
				return quietExit(code)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&only, "only", nil, "run only items of this check id (or item key); repeatable")
	cmd.Flags().DurationVar(&planExpiry, "plan-expiry", tasks.DefaultExpiry, "how long plans queued by task items wait for approval")
	mf.register(cmd)
	outputFlag(cmd, &output, "text", "json", "junit")
	return cmd
}

// selectItems returns the items of every file, or those matching --only.
func selectItems(files []*heartbeat.File, only []string) ([]heartbeat.Item, error) {
	var all, picked []heartbeat.Item
	for _, f := range files {
		all = append(all, f.Items...)
	}
	if len(only) == 0 {
		return all, nil
	}
	for _, it := range all {
		if slices.Contains(only, it.ID) || slices.Contains(only, it.Key) {
			picked = append(picked, it)
		}
	}
	if len(picked) == 0 {
		ids := map[string]bool{}
		var names []string
		for _, it := range all {
			if it.ID != "" && !ids[it.ID] {
				ids[it.ID] = true
				names = append(names, it.ID)
			}
		}
		return nil, fmt.Errorf("no item matches --only %s; the heartbeat has: %s", strings.Join(only, ","), strings.Join(names, ", "))
	}
	return picked, nil
}

// failsUnmuted reports whether a failed run has an open finding, more severe than
// info, that no mute silences: muted findings do not fail check.
func failsUnmuted(o runner.Outcome) bool {
	for _, f := range o.Findings {
		if f.State.Open() && f.Severity.Rank() > checks.Info.Rank() && f.MutedBy == "" {
			return true
		}
	}
	return false
}

func outcomeExitCode(outcomes []runner.Outcome) int {
	code := exitOK
	for _, o := range outcomes {
		switch {
		case o.Receipt.Status == checks.Fail && failsUnmuted(o):
			return exitProblems
		case o.Receipt.Status == checks.Fail:
		case o.Err != nil || o.Receipt.Status == checks.Error:
			code = exitErr
		}
	}
	return code
}

type findingJSON struct {
	Fingerprint string             `json:"fingerprint"`
	Resource    string             `json:"resource"`
	Problem     string             `json:"problem"`
	Severity    checks.Severity    `json:"severity"`
	State       store.FindingState `json:"state"`
	Summary     string             `json:"summary"`
	Evidence    map[string]string  `json:"evidence,omitempty"`
	Fix         string             `json:"fix,omitempty"`
	MonthlyCost *float64           `json:"monthly_cost_usd,omitempty"`
	Explanation string             `json:"explanation,omitempty"`
	MutedBy     string             `json:"muted_by,omitempty"`
}

// toFindingJSON is a finding as clankerd prints it: secrets in its text redacted.
func toFindingJSON(f store.FindingRecord) findingJSON {
	return findingJSON{
		Fingerprint: f.Fingerprint, Resource: redact.String(f.Resource), Problem: f.Problem, Severity: f.Severity,
		State: f.State, Summary: redact.String(f.Summary), Evidence: redact.Map(f.Evidence), Fix: redact.String(f.Fix), MonthlyCost: f.MonthlyCostUSD,
		MutedBy: f.MutedBy,
	}
}

type planRefJSON struct {
	ID      string `json:"id"`
	Created bool   `json:"created"`
	Target  string `json:"target"`
	Change  string `json:"change"`
	Risk    string `json:"risk"`
}

type resultJSON struct {
	Check      string        `json:"check"`
	Item       string        `json:"item"`
	Key        string        `json:"key"`
	Text       string        `json:"text,omitempty"`
	Status     checks.Status `json:"status"`
	DurationMS int64         `json:"duration_ms"`
	Error      string        `json:"error"`
	Plan       *planRefJSON  `json:"plan,omitempty"`
	FixPlans   []planRefJSON `json:"fix_plans,omitempty"`
	Findings   []findingJSON `json:"findings"`
	// ExplainErrors say why the model explained no finding (over budget, no model).
	ExplainErrors []string `json:"explain_errors,omitempty"`
}

type checkJSON struct {
	Results []resultJSON          `json:"results"`
	Summary map[checks.Status]int `json:"summary"`
}

func toResultJSON(o runner.Outcome) resultJSON {
	r := resultJSON{
		Check: o.Item.ID, Item: o.Item.Pos(), Key: o.Item.Key, Status: o.Receipt.Status,
		DurationMS: ms(o.Duration()), Error: redact.String(o.Receipt.Error), Findings: []findingJSON{},
	}
	if o.Item.Kind == heartbeat.ItemQuestion {
		r.Text = o.Item.Text
	}
	if o.Err != nil {
		r.Status, r.Error = checks.Error, redact.String(errors.Join(errors.New(r.Error), o.Err).Error())
	}
	if o.Plan != nil {
		r.Plan = &planRefJSON{ID: o.Plan.ID, Created: o.PlanCreated, Target: o.Plan.Target, Change: o.Plan.Change, Risk: string(o.Plan.Risk)}
	}
	for _, p := range o.FixPlans {
		r.FixPlans = append(r.FixPlans, planRefJSON{ID: p.ID, Created: true, Target: p.Target, Change: p.Change, Risk: string(p.Risk)})
	}
	for _, f := range o.Findings {
		fj := toFindingJSON(f.FindingRecord)
		fj.Explanation = o.Explanations[f.Fingerprint]
		r.Findings = append(r.Findings, fj)
	}
	r.ExplainErrors = o.ExplainErrors
	return r
}

func (a *cmdline) printOutcomes(outcomes []runner.Outcome, output string) error {
	out := checkJSON{Results: make([]resultJSON, len(outcomes)), Summary: map[checks.Status]int{}}
	for i, o := range outcomes {
		out.Results[i] = toResultJSON(o)
		out.Summary[out.Results[i].Status]++
	}
	switch output {
	case "json":
		return printJSON(a.stdout, out)
	case "junit":
		return writeJUnit(a.stdout, out.Results)
	}
	for _, r := range out.Results {
		what := r.Check
		if what == "" {
			what = fmt.Sprintf("%q", oneLine(r.Text, 50))
		}
		fmt.Fprintf(a.stdout, "%-7s %s  %s (%dms)\n", strings.ToUpper(string(r.Status)), what, r.Item, r.DurationMS)
		if r.Error != "" {
			fmt.Fprintf(a.stdout, "        %s\n", r.Error)
		}
		if r.Plan != nil {
			verb := "queued"
			if !r.Plan.Created {
				verb = "already pending"
			}
			fmt.Fprintf(a.stdout, "        plan %s %s: %s: %s (risk %s); approve with: clankerd approve %s\n", r.Plan.ID, verb, r.Plan.Target, r.Plan.Change, r.Plan.Risk, r.Plan.ID)
		}
		for _, f := range r.Findings {
			fmt.Fprintf(a.stdout, "        [%s] %s %s: %s\n", stateText(f.State, f.MutedBy), f.Severity, f.Resource, f.Summary)
			if f.Explanation != "" {
				fmt.Fprintf(a.stdout, "          model: %s\n", strings.ReplaceAll(f.Explanation, "\n", "\n          "))
			}
		}
		for _, e := range r.ExplainErrors {
			fmt.Fprintf(a.stdout, "        not explained: %s\n", e)
		}
		for _, p := range r.FixPlans {
			fmt.Fprintf(a.stdout, "        fix queued as plan %s: %s: %s (risk %s); approve with: clankerd approve %s\n", p.ID, p.Target, p.Change, p.Risk, p.ID)
		}
	}
	fmt.Fprintf(a.stdout, "%d passed, %d failed, %d errors, %d skipped\n",
		out.Summary[checks.Pass], out.Summary[checks.Fail], out.Summary[checks.Error], out.Summary[checks.Skipped])
	return nil
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

func writeJUnit(w io.Writer, results []resultJSON) error {
	var suites junitSuites
	index := map[string]int{}
	for _, r := range results {
		file := r.Item[:strings.LastIndex(r.Item, ":")]
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
			c.Error = &junitMessage{Message: oneLine(r.Error, 200), Body: r.Error}
		case checks.Skipped:
			s.Skipped++
			c.Skipped = &junitMessage{Message: oneLine(r.Error, 200)}
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
