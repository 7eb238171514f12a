package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clankerd/clankerd/internal/approvals"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/view"
	"github.com/clankerd/clankerd/tasks"
)

// defaultApprovals is approvals.yaml beside the default heartbeat.
func defaultApprovals() string {
	return filepath.Join(filepath.Dir(defaultHeartbeat()), approvals.FileName)
}

// approvalsFlag registers --approvals, the policy file a command reads.
func approvalsFlag(flags *pflag.FlagSet, path *string) {
	flags.StringVar(path, "approvals", defaultApprovals(), "the approvals policy: rules under which a plan is approved without a person (your own file, writable by nobody else; docs/approvals.md)")
}

func (a *cmdline) policyCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{Use: "policy", Short: "The approvals policy: check which rule matches a plan, lint the file"}
	check := &cobra.Command{
		Use:   "check ID",
		Short: "Say which rule of the approvals policy matches a plan, or why none does",
		Long: `check reads the plan and the approvals policy and says which rule would approve it,
or, for each rule, why it does not and what a rule would need. It changes nothing.

Exit codes: 0 a rule matches, 3 no such plan or a broken policy, 4 no rule matches.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				p, err := readPlan(cmd.Context(), b, argv[0])
				if err != nil {
					return err
				}
				rule, err := a.matchPolicy(path, p)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "plan %s matches ", p.ID)
				view.NewPolicyRule(path, rule, time.Now()).WriteText(a.stdout)
				return nil
			})
		},
	}
	lint := &cobra.Command{
		Use:   "lint",
		Short: "Validate the approvals policy",
		Long: `lint reads the approvals policy as approve --policy does (owner and mode too) and
reports every problem as FILE:LINE: field: message; a rule past its expiry is named.

Exit codes: 0 valid, 3 problems.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			pol, err := a.loadPolicy(path)
			if err != nil {
				return err
			}
			now := time.Now()
			for _, r := range pol.Rules {
				view.NewPolicyRule(path, r, now).WriteText(a.stdout)
			}
			fmt.Fprintf(a.stdout, "%s: %d rule(s), valid\n", view.Redact(path), len(pol.Rules))
			return nil
		},
	}
	approvalsFlag(cmd.PersistentFlags(), &path)
	cmd.AddCommand(check, lint)
	return cmd
}

// loadPolicy reads the approvals policy, linted against this build's tasks.
func (a *cmdline) loadPolicy(path string) (approvals.Policy, error) {
	provs, err := a.newProviders(false)
	if err != nil {
		return approvals.Policy{}, err
	}
	defer provs.Close()
	pol, err := approvals.Load(path, provs.registry)
	if err != nil {
		return pol, withCode(exitBadInput, err)
	}
	return pol, nil
}

// matchPolicy is the rule of the policy at path that approves plan p now; no rule is
// a refusal (exit 4) saying why each rule does not match and what one would need.
func (a *cmdline) matchPolicy(path string, p tasks.PlanRecord) (approvals.Rule, error) {
	pol, err := a.loadPolicy(path)
	missing := errors.Is(err, approvals.ErrNoPolicy)
	if err != nil && !missing {
		return approvals.Rule{}, err
	}
	rule, err := pol.Match(p.Plan, time.Now())
	switch {
	case missing:
		return rule, withCode(exitRefused, fmt.Errorf("refused: plan %s: %w: %s does not exist; nothing was changed", p.ID, err, path))
	case errors.Is(err, approvals.ErrNoRule):
		return rule, withCode(exitRefused, fmt.Errorf("refused: plan %s: %w; nothing was changed", p.ID, err))
	}
	return rule, err
}

// approveByPolicy approves plan p, as read, when a rule of the policy at path matches
// it: through the one approve operation, naming the rule and the digest of the plan
// that matched.
func (a *cmdline) approveByPolicy(ctx context.Context, b control.Backend, p tasks.PlanRecord, path, output string) error {
	rule, err := a.matchPolicy(path, p)
	if err != nil {
		return err
	}
	if output == "text" {
		fmt.Fprintf(a.stdout, "plan %s matches ", p.ID)
		view.NewPolicyRule(path, rule, time.Now()).WriteText(a.stdout)
	}
	return a.approvePlan(ctx, b, control.Decision{ID: p.ID, Actor: actorName(), Digest: p.Digest, Policy: rule.Name}, output)
}
