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

	var reanchor bool
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the audit chain, its checkpoint and the plans' records; exit 1 naming what is wrong",
		Long: `verify walks the audit chain (every record linked to the one before by its hash),
compares its end with the checkpoint kept outside the database (audit.head in the
state directory, signed with integrity.key), so records cut from the end are found,
and checks that every plan has the records of the steps its state says it went
through. It exits 1 naming the first changed record, the missing sequence numbers,
or the plans whose records are gone.

--reanchor accepts the log's current head as the checkpoint, for when you know why
the checkpoint is missing or does not match (a backup was restored); the chain must
still be intact.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				n, err := control.OpVerifyAudit.Do(cmd.Context(), b, control.AuditVerify{Reanchor: reanchor})
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
	verify.Flags().BoolVar(&reanchor, "reanchor", false, "accept the log's current head as the checkpoint before verifying")
	cmd.AddCommand(verify)
	return cmd
}
