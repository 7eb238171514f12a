package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/ask"
	"github.com/clankerd/clankerd/internal/config"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/view"
	"github.com/clankerd/clankerd/tasks"
)

func (a *cmdline) askCommand() *cobra.Command {
	var output, approvalsPath string
	var maker, apply, deep bool
	var mf modelFlags
	cmd := &cobra.Command{
		Use:   `ask "QUESTION"`,
		Short: "Answer a plain-language question by running the checks it maps to",
		Long: `ask maps a question to checks (deterministic rules first; a model only when the rules
are not confident and one is configured), runs them like ` + "`clankerd check`" + ` and answers
with their results and findings.

A change request ("scale payments/api to 5 replicas") is previewed: the plan it would
queue (target, current state, change, cost, risk) is shown and nothing is queued; so is
"estimate the cost of …". With --maker the plan is queued (asking again while it is
pending returns the same plan); at a terminal ask then offers to approve it, which is
` + "`clankerd approve`" + `. With --maker --apply it is approved only when a rule of your
approvals policy matches it (docs/approvals.md).

Exit codes as check: 0 no problem (or a preview, or a plan queued or applied), 1 a
check failed, 2 a check could not be evaluated or applying failed, 3 the question could
not be routed or leaves out a required parameter, 4 the change was refused (no rule
matches, stale, not approved).

-o json adds "healthy" (true only when checks ran and every one passed) and a flat
"findings" list of the open findings; -o findings prints only that list, for jq.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if apply && !maker {
				return withCode(exitBadInput, errors.New("--apply needs --maker: a change is applied only as a queued plan"))
			}
			provs, err := a.newProviders(false)
			if err != nil {
				return err
			}
			defer provs.Close()
			return a.withBackend(cmd.Context(), provs.registry, func(b control.Backend) error {
				svc, err := a.askService(provs, b, mf, actorName())
				if err != nil {
					return err
				}
				ans, err := svc.Ask(cmd.Context(), ask.Request{Question: args[0], Maker: maker, Deep: deep})
				if errors.Is(err, ask.ErrUnroutable) || errors.Is(err, ask.ErrWriteRefused) || errors.Is(err, ask.ErrIncomplete) {
					return withCode(exitBadInput, err)
				}
				if err != nil {
					return err
				}
				if ans.Plan != nil && ans.Plan.State == tasks.PlanPending {
					return a.decideQueued(cmd.Context(), b, ans, apply, approvalsPath, output)
				}
				if err := a.printAnswer(ans, output); err != nil {
					return err
				}
				if code := outcomeExitCode(ans.Outcomes); code != exitOK {
					return quietExit(code)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&maker, "maker", false, "queue a change request as a pending plan (without it the plan is only previewed)")
	cmd.Flags().BoolVar(&apply, "apply", false, "with --maker: approve the plan when a rule of the approvals policy matches it; refuse otherwise")
	cmd.Flags().BoolVar(&deep, "deep", false, "route with the escalation model when a model is needed")
	approvalsFlag(cmd.Flags(), &approvalsPath)
	mf.register(cmd)
	outputFlag(cmd, &output, "text", "json", "findings")
	return cmd
}

// decideQueued shows the plan a change request queued, then: with apply, approves it
// when the approvals policy matches it (and the rules, not the model, routed it); at a terminal (text output), asks whether to
// approve it; otherwise leaves it pending, the answer naming the approve command.
// Every approval is the one approve operation, with the digest of the plan shown.
func (a *cmdline) decideQueued(ctx context.Context, b control.Backend, ans ask.Answer, apply bool, approvalsPath, output string) error {
	p := *ans.Plan
	if !apply || output == "text" {
		if err := a.printAnswer(ans, output); err != nil {
			return err
		}
	}
	switch {
	case apply && ans.RoutedBy == "model":
		// The model's words may queue a plan, never approve one, not even by a rule.
		return withCode(exitRefused, fmt.Errorf("refused: the model chose plan %s's task and parameters, and --apply approves only plans the rules routed; review it with `clankerd approve %s`; nothing was changed", p.ID, p.ID))
	case apply:
		return a.approveByPolicy(ctx, b, p, approvalsPath, output)
	case output != "text" || !a.stdinIsTerminal():
		return nil
	}
	view.WritePlan(a.stdout, view.NewPlan(p))
	ok, err := a.confirm("Approve? [y/N] ")
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(a.stdout, "not approved: plan %s stays pending (clankerd approve %s)\n", p.ID, p.ID)
		return nil
	}
	return a.approvePlan(ctx, b, control.Decision{ID: p.ID, Actor: actorName(), Digest: p.Digest}, output)
}

// askService builds the question answering service over the providers, recording in
// state; actor is audited as the one who queues plans. Agents' items (MCP, a model's
// routes) are held to what the configuration allows them.
func (a *cmdline) askService(provs *providers, state control.Backend, mf modelFlags, actor string) (*ask.Service, error) {
	afterRun, err := mf.afterRun(a.stateDir, a.logger, false)
	if err != nil {
		return nil, withCode(exitBadInput, err)
	}
	reg := provs.registry
	cfg, err := config.Load(a.configPath, reg.ConfiguredParams())
	if err != nil {
		return nil, withCode(exitBadInput, err)
	}
	svc := &ask.Service{
		Router:  provs.router(),
		Catalog: reg,
		Runner:  app.NewRunner(reg, state, app.RunnerOptions{Actor: actor, AfterRun: afterRun, Agents: cfg.Agents, Logger: a.logger}),
	}
	model, err := mf.router(reg, a.logger)
	if err != nil {
		return nil, withCode(exitBadInput, err)
	}
	if model != nil {
		svc.Model = model
	}
	return svc, nil
}

func (a *cmdline) printAnswer(ans ask.Answer, output string) error {
	v := view.NewAnswer(ans)
	switch output {
	case "json":
		return view.WriteJSON(a.stdout, v)
	case "findings":
		return view.WriteJSON(a.stdout, v.Findings)
	}
	v.WriteText(a.stdout)
	return nil
}
