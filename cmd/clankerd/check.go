package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/view"
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
			defer app.KeepHeapNearLive()()
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
			if err := a.printResults(view.NewResults(outcomes), output, reg); err != nil {
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
	outputFlag(cmd, &output, "text", "json", "junit", "sarif")
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
		if f.Fails() {
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

// printResults prints the results of check and scan in the output format; specs
// describe the checks' rules in SARIF.
func (a *cmdline) printResults(rs view.Results, output string, specs view.SpecLookup) error {
	switch output {
	case "json":
		return view.WriteJSON(a.stdout, rs)
	case "junit":
		return rs.WriteJUnit(a.stdout)
	case "sarif":
		return view.WriteJSON(a.stdout, view.NewSARIF(rs, specs, version))
	}
	rs.WriteText(a.stdout)
	return nil
}
