package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/view"
	"github.com/clankerd/clankerd/tasks"
)

func (a *cmdline) approveCommand() *cobra.Command {
	var yes, policy bool
	var output, approvalsPath string
	cmd := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a pending plan and apply it, after re-reading live state",
		Long: `approve is the only way a change is made. It shows the plan, asks for confirmation
at a terminal, then re-reads the target's live state and applies the change only when
that state still matches what the plan saw. A drifted plan is marked stale and nothing
changes. When stdin is not a terminal nobody can be asked: approve refuses unless
--yes says a person decided already (like terraform apply -auto-approve), or --policy
finds a rule of your approvals policy (docs/approvals.md) that matches the plan. The
approver in the audit log is the user running this command, or policy:RULE (by USER).

Exit codes: 0 applied, 2 apply failed, 3 no such plan or a broken policy, 4 refused
(stale, expired, not pending, not confirmed, no rule matches, no terminal and no
--yes, or not granted by the team server's RBAC).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id := argv[0]
			if !yes && !policy && !a.stdinIsTerminal() {
				return withCode(exitRefused, errApproveNeedsPerson)
			}
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				p, err := readPlan(cmd.Context(), b, id)
				if err != nil {
					return err
				}
				if policy {
					return a.approveByPolicy(cmd.Context(), b, p, approvalsPath, output)
				}
				v := view.NewPlan(p)
				if output == "text" {
					view.WritePlan(a.stdout, v)
				}
				if !yes {
					ok, err := a.confirm(fmt.Sprintf("Apply %s to %s? [y/N] ", v.Change, v.Target))
					if err != nil {
						return err
					}
					if !ok {
						return withCode(exitRefused, errors.New("not approved: nothing was changed"))
					}
				}
				return a.approvePlan(cmd.Context(), b, control.Decision{ID: id, Actor: actorName(), Digest: p.Digest}, output)
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation (required when stdin is not a terminal)")
	cmd.Flags().BoolVar(&policy, "policy", false, "approve only when a rule of the approvals policy matches the plan (for CI; see docs/approvals.md)")
	approvalsFlag(cmd.Flags(), &approvalsPath)
	outputFlag(cmd, &output, "text", "json")
	return cmd
}

// approvePlan sends the decision through the one approve operation and shows the
// outcome. d.Digest is the digest of the plan that was shown or matched: the daemon
// refuses when the stored plan is not that one.
func (a *cmdline) approvePlan(ctx context.Context, b control.Backend, d control.Decision, output string) error {
	p, err := control.OpApprove.Do(ctx, b, d)
	if output == "json" {
		if perr := view.WriteJSON(a.stdout, view.NewPlan(p)); perr != nil {
			return perr
		}
	} else if err == nil && output == "text" {
		fmt.Fprintf(a.stdout, "applied: %s\n", view.NewPlan(p).Result)
	}
	return planError(err)
}

// errApproveNeedsPerson refuses an approval that nobody confirmed.
var errApproveNeedsPerson = errors.New("approve needs a person: run it at a terminal, or pass --yes in scripts; nothing was changed")

// planError gives refusals and failures of approve and reject their exit codes.
func planError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return withCode(exitBadInput, err)
	case errors.Is(err, tasks.ErrStale), errors.Is(err, tasks.ErrExpired), errors.Is(err, tasks.ErrNotPending), errors.Is(err, tasks.ErrTampered), errors.Is(err, tasks.ErrChanged),
		errors.Is(err, control.ErrForbidden), errors.Is(err, control.ErrAgentDecision):
		return withCode(exitRefused, fmt.Errorf("refused: %w", err))
	}
	return withCode(exitErr, err)
}

func (a *cmdline) stdinIsTerminal() bool {
	f, ok := a.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (a *cmdline) confirm(prompt string) (bool, error) {
	fmt.Fprint(a.stderr, prompt)
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func (a *cmdline) rejectCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "reject ID --reason TEXT",
		Short: "Reject a pending plan; nothing is changed",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if strings.TrimSpace(reason) == "" {
				return withCode(exitBadInput, errors.New("reject needs --reason \"why\""))
			}
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				p, err := control.OpReject.Do(cmd.Context(), b, control.Decision{ID: argv[0], Actor: actorName(), Reason: reason})
				if err != nil {
					return planError(err)
				}
				fmt.Fprintf(a.stdout, "rejected %s: %s\n", p.ID, view.NewPlan(p).Reason)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the plan is rejected (required)")
	return cmd
}
