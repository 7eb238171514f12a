package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/tasks"
	"github.com/spf13/cobra"
)

var planStates = []string{"pending", "approved", "applying", "applied", "failed", "rejected", "expired", "stale"}

func (a *cmdline) plansCommand() *cobra.Command {
	var output, state, task string
	cmd := &cobra.Command{
		Use:   "plans",
		Short: "List plans: changes waiting for approval, and what became of earlier ones",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := tasks.PlanFilter{Task: task}
			for _, s := range strings.Split(state, ",") {
				switch s = strings.TrimSpace(s); {
				case s == "" || s == "all":
				case slices.Contains(planStates, s):
					f.States = append(f.States, tasks.PlanState(s))
				default:
					return withCode(exitBadInput, fmt.Errorf("--state %q: use %s or all", s, strings.Join(planStates, ", ")))
				}
			}
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				plans, err := control.OpPlans.Do(cmd.Context(), b, f)
				if err != nil {
					return err
				}
				if output == "json" {
					out := make([]planJSON, len(plans))
					for i, p := range plans {
						out[i] = toPlanJSON(p)
					}
					return printJSON(a.stdout, map[string]any{"plans": out})
				}
				if len(plans) == 0 {
					fmt.Fprintln(a.stdout, "no plans")
					return nil
				}
				t := newTable(a.stdout, "ID", "STATE", "RISK", "TASK", "TARGET", "CHANGE", "EXPIRES")
				for _, p := range plans {
					t.row(p.ID, string(p.State), string(p.Risk), p.Task, oneLine(p.Target, 50), oneLine(p.Change, 50), when(p.ExpiresAt))
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "all", "only plans in these states (comma-separated): "+strings.Join(planStates, ", "))
	cmd.Flags().StringVar(&task, "task", "", "only plans of this task id")
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(planStates, cobra.ShellCompDirectiveNoFileComp))
	outputFlag(cmd, &output, "text", "json")
	return cmd
}

type planJSON struct {
	ID                   string            `json:"id"`
	Task                 string            `json:"task"`
	Params               map[string]string `json:"params"`
	Target               string            `json:"target"`
	State                tasks.PlanState   `json:"state"`
	Risk                 string            `json:"risk"`
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
	Error                string            `json:"error,omitempty"`
	Digest               string            `json:"digest"`
}

func toPlanJSON(p tasks.PlanRecord) planJSON {
	j := planJSON{
		ID: p.ID, Task: p.Task, Params: p.Params.Values(), Target: p.Target, State: p.State, Risk: string(p.Risk),
		RiskReasons: p.RiskReasons, Observed: p.Observed, Change: p.Change, MonthlyCostChangeUSD: p.MonthlyCostChangeUSD,
		CostNote: p.CostNote, Preconditions: p.Preconditions, Source: p.Source, CreatedAt: p.CreatedAt,
		ExpiresAt: p.ExpiresAt, UpdatedAt: p.UpdatedAt, DecidedBy: p.DecidedBy, Reason: p.Reason, Error: p.Error, Digest: p.Digest,
	}
	if j.Observed == nil {
		j.Observed = map[string]string{}
	}
	if p.Result != nil {
		j.Result = p.Result.Summary
	}
	return j
}

func (a *cmdline) planCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "plan", Short: "Look at one plan"}
	var output string
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a plan: target, observed state, change, risk, cost, expiry",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				p, err := control.OpPlan.Do(cmd.Context(), b, argv[0])
				if err != nil {
					return withCode(exitBadInput, err)
				}
				if output == "json" {
					return printJSON(a.stdout, toPlanJSON(p))
				}
				writePlan(a.stdout, p)
				return nil
			})
		},
	}
	outputFlag(show, &output, "text", "json")
	cmd.AddCommand(show)
	return cmd
}

func writePlan(w io.Writer, p tasks.PlanRecord) {
	fmt.Fprintf(w, "plan %s (%s)\n", p.ID, p.State)
	fmt.Fprintf(w, "  task:     %s %s\n", p.Task, p.Params.Identity())
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
	keys := make([]string, 0, len(p.Observed))
	for k := range p.Observed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "            %s = %s\n", k, p.Observed[k])
	}
	for _, pc := range p.Preconditions {
		fmt.Fprintf(w, "  precondition: %s\n", pc)
	}
	fmt.Fprintf(w, "  source:   %s\n", p.Source)
	fmt.Fprintf(w, "  created:  %s; expires %s\n", when(p.CreatedAt), when(p.ExpiresAt))
	if p.DecidedBy != "" {
		fmt.Fprintf(w, "  decided:  by %s %s\n", p.DecidedBy, p.Reason)
	}
	if p.Result != nil {
		fmt.Fprintf(w, "  result:   %s\n", p.Result.Summary)
	}
	if p.Error != "" {
		fmt.Fprintf(w, "  error:    %s\n", p.Error)
	}
}
