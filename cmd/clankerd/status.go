package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/view"
)

func (a *cmdline) statusCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the daemon, every item's last and next run, open findings and pending plans",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				st, err := control.OpStatus.Do(cmd.Context(), b, control.None{})
				if err != nil {
					return err
				}
				v := view.NewStatus(st)
				if output == "json" {
					return view.WriteJSON(a.stdout, v)
				}
				return v.WriteText(a.stdout, time.Now())
			})
		},
	}
	outputFlag(cmd, &output, "text", "json")
	return cmd
}
