package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/view"
)

func (a *cmdline) auditCommand() *cobra.Command {
	var output string
	var limit int
	var since uint64
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the hash-chained audit log: plans, approvals, applies, heartbeat loads",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				recs, err := control.OpAudit.Do(cmd.Context(), b, store.AuditFilter{Since: since, Limit: limit})
				if err != nil {
					return err
				}
				out := view.AuditRecords(recs)
				if output == "json" {
					return view.WriteJSON(a.stdout, map[string]any{"audit": out})
				}
				return view.WriteAudit(a.stdout, out)
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "show the last N records (0: all)")
	cmd.Flags().Uint64Var(&since, "since", 0, "only records after this sequence number")
	outputFlag(cmd, &output, "text", "json")

	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the audit chain; exit 1 and name the first bad record when it is broken",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				n, err := control.OpVerifyAudit.Do(cmd.Context(), b, control.None{})
				if errors.Is(err, store.ErrAuditBroken) {
					return withCode(exitProblems, err)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "audit chain intact: %d records\n", n)
				return nil
			})
		},
	}
	cmd.AddCommand(verify)
	return cmd
}
