package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/view"
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
				out := view.Receipts(runs)
				if output == "json" {
					return view.WriteJSON(a.stdout, map[string]any{"runs": out})
				}
				return view.WriteReceipts(a.stdout, out)
			})
		},
	}
	cmd.Flags().StringVar(&check, "check", "", "only runs of this check id (http.status) or item key")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many runs (0: all)")
	cmd.Flags().DurationVar(&since, "since", 0, "only runs started within this duration")
	outputFlag(cmd, &output, "text", "json")
	return cmd
}
