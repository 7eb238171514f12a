package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/view"
)

// checkOrItem reads a --check value: a check id has a dot ("http.status"), an item key
// does not.
func checkOrItem(v string) (check, item string) {
	if strings.Contains(v, ".") {
		return v, ""
	}
	return "", v
}

func (a *cmdline) findingsCommand() *cobra.Command {
	var output, state, check, severity string
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "findings",
		Short: "List findings with their state: new, unchanged, changed, resolved",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := store.FindingFilter{}
			f.Check, f.Item = checkOrItem(check)
			states, err := parseFindingStates(state)
			if err != nil {
				return withCode(exitBadInput, err)
			}
			f.States = states
			if severity != "" {
				if f.Severity, err = checks.ParseSeverity(severity); err != nil {
					return withCode(exitBadInput, fmt.Errorf("--severity: %w", err))
				}
			}
			if since > 0 {
				f.Since = time.Now().Add(-since)
			}
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				fs, err := control.OpFindings.Do(cmd.Context(), b, f)
				if err != nil {
					return err
				}
				return a.printFindings(fs, output)
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "open", "new, unchanged, changed, resolved, open (new+unchanged+changed) or all; comma-separated")
	cmd.Flags().StringVar(&check, "check", "", "only findings of this check id or item key")
	cmd.Flags().StringVar(&severity, "severity", "", "only findings at least this severe: info, low, medium, high, critical")
	cmd.Flags().DurationVar(&since, "since", 0, "only findings seen (or resolved) within this duration")
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions([]string{"new", "unchanged", "changed", "resolved", "open", "all"}, cobra.ShellCompDirectiveNoFileComp))
	outputFlag(cmd, &output, "text", "json")
	return cmd
}

func parseFindingStates(v string) ([]store.FindingState, error) {
	var out []store.FindingState
	for _, s := range strings.Split(v, ",") {
		switch s = strings.TrimSpace(s); s {
		case "all":
			return nil, nil
		case "open":
			out = append(out, store.FindingNew, store.FindingUnchanged, store.FindingChanged)
		case "new", "unchanged", "changed", "resolved":
			out = append(out, store.FindingState(s))
		default:
			return nil, fmt.Errorf("--state %q: use new, unchanged, changed, resolved, open or all", s)
		}
	}
	return out, nil
}

func (a *cmdline) printFindings(fs []store.FindingRecord, output string) error {
	cache := explanationCache(a.stateDir)
	out := view.Findings(fs, func(fp string) string {
		e, _ := cache.Get(fp)
		return e.Text
	})
	if output == "json" {
		return view.WriteJSON(a.stdout, map[string]any{"findings": out})
	}
	return view.WriteFindings(a.stdout, out)
}

func (a *cmdline) diffCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what is new, changed and resolved since each check's previous run",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				fs, err := control.OpDiff.Do(cmd.Context(), b, control.None{})
				if err != nil {
					return err
				}
				return a.printFindings(fs, output)
			})
		},
	}
	outputFlag(cmd, &output, "text", "json")
	return cmd
}
