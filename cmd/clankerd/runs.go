package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/store"
)

func (a *cmdline) runsCommand() *cobra.Command {
	var output, check string
	var limit int
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List run receipts, newest first: did it actually run, and how did it end?",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := store.RunFilter{Limit: limit}
			f.Check, f.Item = checkOrItem(check)
			if since > 0 {
				f.Since = time.Now().Add(-since)
			}
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				runs, err := control.OpRuns.Do(cmd.Context(), b, f)
				if err != nil {
					return err
				}
				if output == "json" {
					if runs == nil {
						runs = []store.Receipt{}
					}
					return printJSON(a.stdout, map[string]any{"runs": runs})
				}
				t := newTable(a.stdout, "SEQ", "SCHEDULED", "STARTED", "CHECK", "ITEM", "STATUS", "MS", "TRIGGER", "FINDINGS", "ERROR")
				for _, r := range runs {
					dur := "-"
					if !r.Ended.IsZero() {
						dur = fmt.Sprint(r.Ended.Sub(r.Started).Milliseconds())
					}
					trig := string(r.Trigger)
					if r.Missed > 0 {
						trig += fmt.Sprintf(" (+%d missed)", r.Missed)
					}
					c := r.Findings
					t.row(fmt.Sprint(r.Seq), when(r.Scheduled), when(r.Started), r.Check, r.Pos, string(r.Status), dur, trig,
						fmt.Sprintf("+%d ~%d -%d", c.New, c.Changed, c.Resolved), oneLine(r.Error, 60))
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().StringVar(&check, "check", "", "only runs of this check id (http.status) or item key")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many runs (0: all)")
	cmd.Flags().DurationVar(&since, "since", 0, "only runs started within this duration")
	outputFlag(cmd, &output, "text", "json")
	return cmd
}
