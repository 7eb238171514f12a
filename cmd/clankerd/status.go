package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/control"
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
				if output == "json" {
					return printJSON(a.stdout, st)
				}
				if d := st.Daemon; d != nil {
					fmt.Fprintf(a.stdout, "daemon: running, pid %d, version %s, up %s, %d items from %v\n",
						d.PID, d.Version, time.Since(d.Started).Round(time.Second), d.Items, d.Heartbeats)
					for _, e := range d.LoadErrors {
						fmt.Fprintf(a.stdout, "  reload error (last good version running): %s\n", e)
					}
					if m := d.Model; m != nil {
						limit := "no hourly limit"
						if m.PerHour > 0 {
							limit = fmt.Sprintf("limit %d, %d left", m.PerHour, m.Remaining)
						}
						fmt.Fprintf(a.stdout, "model: %s, %d calls this hour (%s), %d in all, %d skipped over budget\n", m.Model, m.ThisHour, limit, m.Calls, m.Skipped)
					}
				} else {
					fmt.Fprintln(a.stdout, "daemon: not running (start it with `clankerd run`)")
				}
				fmt.Fprintf(a.stdout, "database: %s\n", st.Database)
				fmt.Fprintf(a.stdout, "open findings: %d critical, %d high, %d medium, %d low, %d info\n",
					st.OpenFindings[string(checks.Critical)], st.OpenFindings[string(checks.High)], st.OpenFindings[string(checks.Medium)],
					st.OpenFindings[string(checks.Low)], st.OpenFindings[string(checks.Info)])
				fmt.Fprintf(a.stdout, "pending plans: %d\n", st.PendingPlans)
				var configured []string
				if st.Daemon != nil {
					for _, t := range st.Daemon.Targets {
						configured = append(configured, t.Name)
					}
				}
				printNotifyStatus(a.stdout, st.OutboxDepth, st.Targets, configured)
				if len(st.Items) == 0 {
					fmt.Fprintln(a.stdout, "no runs recorded yet")
					return nil
				}
				t := newTable(a.stdout, "ITEM", "CHECK", "LAST STATUS", "LAST RUN", "NEXT RUN", "OPEN", "ERROR")
				for _, it := range st.Items {
					t.row(it.Pos, it.Check, string(it.LastStatus), when(it.LastStarted), when(it.Next), fmt.Sprint(it.OpenFindings), oneLine(it.LastError, 60))
				}
				return t.flush()
			})
		},
	}
	outputFlag(cmd, &output, "text", "json")
	return cmd
}
