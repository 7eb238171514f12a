package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/ask"
	"github.com/clankerd/clankerd/internal/config"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/view"
)

func (a *cmdline) askCommand() *cobra.Command {
	var output string
	var maker, deep bool
	var mf modelFlags
	cmd := &cobra.Command{
		Use:   `ask "QUESTION"`,
		Short: "Answer a plain-language question by running the checks it maps to",
		Long: `ask maps a question to checks (deterministic rules first; a model only when the rules
are not confident and one is configured), runs them like ` + "`clankerd check`" + ` and answers
with their results and findings.

A change request ("scale payments/api to 5 replicas") is refused unless --maker is
given; with it, it becomes a pending plan that only ` + "`clankerd approve`" + ` applies.

Exit codes as check: 0 no problem, 1 a check failed, 2 a check could not be evaluated,
3 the question could not be routed, asks for a change without --maker, or leaves out
a required parameter.

-o json adds "healthy" (true only when checks ran and every one passed) and a flat
"findings" list of the open findings; -o findings prints only that list, for jq.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			provs, err := a.newProviders(false)
			if err != nil {
				return err
			}
			defer provs.Close()
			var ans ask.Answer
			err = a.withBackend(cmd.Context(), provs.registry, func(b control.Backend) error {
				svc, err := a.askService(provs, b, mf, actorName())
				if err != nil {
					return err
				}
				ans, err = svc.Ask(cmd.Context(), ask.Request{Question: args[0], Maker: maker, Deep: deep})
				return err
			})
			if errors.Is(err, ask.ErrUnroutable) || errors.Is(err, ask.ErrWriteRefused) || errors.Is(err, ask.ErrIncomplete) {
				return withCode(exitBadInput, err)
			}
			if err != nil {
				return err
			}
			if err := a.printAnswer(ans, output); err != nil {
				return err
			}
			if code := outcomeExitCode(ans.Outcomes); code != exitOK {
				return quietExit(code)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&maker, "maker", false, "let a change request become a pending plan (it is never applied without `clankerd approve`)")
	cmd.Flags().BoolVar(&deep, "deep", false, "route with the escalation model when a model is needed")
	mf.register(cmd)
	outputFlag(cmd, &output, "text", "json", "findings")
	return cmd
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
