package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/view"
	"github.com/clankerd/clankerd/tasks"
	"github.com/spf13/cobra"
)

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
				case slices.Contains(tasks.PlanStates, tasks.PlanState(s)):
					f.States = append(f.States, tasks.PlanState(s))
				default:
					return withCode(exitBadInput, fmt.Errorf("--state %q: use %s or all", s, planStateList()))
				}
			}
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				plans, err := control.OpPlans.Do(cmd.Context(), b, f)
				if err != nil {
					return err
				}
				out := view.Plans(plans)
				if output == "json" {
					return view.WriteJSON(a.stdout, map[string]any{"plans": out})
				}
				return view.WritePlans(a.stdout, out)
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "all", "only plans in these states (comma-separated): "+planStateList())
	cmd.Flags().StringVar(&task, "task", "", "only plans of this task id")
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(strings.Split(planStateList(), ", "), cobra.ShellCompDirectiveNoFileComp))
	outputFlag(cmd, &output, "text", "json")
	return cmd
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
				p, err := readPlan(cmd.Context(), b, argv[0])
				if err != nil {
					return err
				}
				if output == "json" {
					return view.WriteJSON(a.stdout, view.NewPlan(p))
				}
				view.WritePlan(a.stdout, view.NewPlan(p))
				return nil
			})
		},
	}
	outputFlag(show, &output, "text", "json")
	cmd.AddCommand(show)
	return cmd
}

// planStateList names the plan states, comma-separated.
func planStateList() string {
	names := make([]string, len(tasks.PlanStates))
	for i, s := range tasks.PlanStates {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// readPlan reads plan id; no such plan is bad input (exit 3).
func readPlan(ctx context.Context, b control.Backend, id string) (tasks.PlanRecord, error) {
	p, err := control.OpPlan.Do(ctx, b, id)
	if err != nil {
		return p, withCode(exitBadInput, err)
	}
	return p, nil
}
