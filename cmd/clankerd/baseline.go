package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/view"
)

func (a *cmdline) baselineCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "baseline (show|accept|reset)",
		Short: "Show, accept changes into, or reset the baselines of change-tracking checks",
		Long: `A change-tracking check (k8s.changes.exposure, k8s.changes.access,
aws.changes.exposure, aws.changes.access) compares what it finds with its item's
baseline: the first completed run records it, and from then on what is added or
widened is a finding until it is reverted or a person accepts it. What goes away is
reported once and leaves the baseline.

ITEM is an item key (as 'clankerd status' and 'clankerd findings' show it) or a check
id (it contains a dot), which names every item of that check.`,
		Args: args(cobra.NoArgs),
	}
	cmd.AddCommand(a.baselineShowCommand(), a.baselineAcceptCommand(), a.baselineResetCommand())
	return cmd
}

func (a *cmdline) baselineShowCommand() *cobra.Command {
	var resource, output string
	cmd := &cobra.Command{
		Use:   "show [ITEM] [--resource GLOB]",
		Short: "List the baselines, or show every fact of one item's baseline and what is beyond it",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			sel := store.BaselineSelector{Resource: resource}
			if len(argv) == 1 {
				sel.Item = argv[0]
			}
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				bs, err := control.OpBaselines.Do(cmd.Context(), b, sel)
				if err != nil {
					return err
				}
				if sel.Item != "" && len(bs) == 0 {
					return withCode(exitBadInput, fmt.Errorf("%s has no baseline yet: its first completed run records one; `clankerd baseline show` lists them", sel.Item))
				}
				v := view.Baselines(bs)
				if output == "json" {
					return view.WriteJSON(a.stdout, map[string]any{"baselines": nonNil(v)})
				}
				return view.WriteBaselines(a.stdout, v, sel.Item != "" || resource != "")
			})
		},
	}
	cmd.Flags().StringVar(&resource, "resource", "", "only facts on resources matching this glob (* any run of characters, ? one)")
	outputFlag(cmd, &output, "text", "json")
	return cmd
}

func (a *cmdline) baselineAcceptCommand() *cobra.Command {
	var resource, reason, output string
	cmd := &cobra.Command{
		Use:   "accept ITEM [--resource GLOB] --reason TEXT",
		Short: "Accept what is beyond a baseline into it: its findings resolve, and the acceptance is audited",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d := control.BaselineDecision{Select: store.BaselineSelector{Item: argv[0], Resource: resource}, Actor: actorName(), Reason: reason}
			return a.changeBaseline(cmd, control.OpAccept, d, output, "accepted")
		},
	}
	cmd.Flags().StringVar(&resource, "resource", "", "only changes on resources matching this glob (* any run of characters, ? one)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the change is wanted (required; audited)")
	outputFlag(cmd, &output, "text", "json")
	return cmd
}

func (a *cmdline) baselineResetCommand() *cobra.Command {
	var reason, output string
	cmd := &cobra.Command{
		Use:   "reset ITEM [--reason TEXT]",
		Short: "Drop a baseline: the next run records a new one from what it finds (audited)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d := control.BaselineDecision{Select: store.BaselineSelector{Item: argv[0]}, Actor: actorName(), Reason: reason}
			return a.changeBaseline(cmd, control.OpReset, d, output, "reset")
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (audited)")
	outputFlag(cmd, &output, "text", "json")
	return cmd
}

// changeBaseline performs accept or reset and prints the change records it made.
func (a *cmdline) changeBaseline(cmd *cobra.Command, op control.Op[control.BaselineDecision, []store.ChangeRecord], d control.BaselineDecision, output, done string) error {
	return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
		cs, err := op.Do(cmd.Context(), b, d)
		if errors.Is(err, store.ErrInvalidBaseline) || errors.Is(err, store.ErrNoBaseline) || errors.Is(err, store.ErrNotFound) {
			return withCode(exitBadInput, err)
		}
		if err != nil {
			return err
		}
		v := view.Changes(cs)
		if output == "json" {
			return view.WriteJSON(a.stdout, map[string]any{"changes": nonNil(v)})
		}
		for _, c := range v {
			what := c.Resource
			if what == "" {
				what = "baseline of " + c.Check + " at " + c.Pos
			}
			if c.Summary != "" {
				what += ": " + c.Summary
			} else {
				what += fmt.Sprintf(" (%d facts)", len(c.Facts))
			}
			fmt.Fprintln(a.stdout, done, what)
		}
		return nil
	})
}

func (a *cmdline) changesCommand() *cobra.Command {
	var since, item, output string
	var limit int
	cmd := &cobra.Command{
		Use:   "changes [--since D] [--item ITEM] [-o json]",
		Short: "What changed in exposure and access: additions, widenings, removals and acceptances, newest first",
		Long: `changes lists the change log of the change-tracking checks (k8s.changes.*,
aws.changes.*): every resource added or widened beyond its item's baseline, every
change reverted, every removal or narrowing, and every acceptance or reset by a person,
newest first. --since takes a duration (24h, 7d) or a date or time (2026-12-01,
2026-12-01T09:00:00Z).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := store.ChangeFilter{Item: item, Limit: limit}
			if since != "" {
				t, err := checks.ParseSince(since, time.Now())
				if err != nil {
					return withCode(exitBadInput, fmt.Errorf("--since: %w", err))
				}
				f.Since = t
			}
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				cs, err := control.OpChanges.Do(cmd.Context(), b, f)
				if err != nil {
					return err
				}
				v := view.Changes(cs)
				if output == "json" {
					return view.WriteJSON(a.stdout, map[string]any{"changes": nonNil(v)})
				}
				return view.WriteChanges(a.stdout, v)
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only changes since this long ago (24h, 7d) or this date or time")
	cmd.Flags().StringVar(&item, "item", "", "only changes of this item key or check id")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many changes (0: all)")
	outputFlag(cmd, &output, "text", "json")
	return cmd
}

// nonNil is s, or an empty slice for nil, so JSON shows [] and not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
