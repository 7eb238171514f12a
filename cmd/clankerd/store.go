package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/view"
)

// storeFlag adds the global --store: where the state is, instead of the state
// directory's state.db. CLANKERD_STORE is read by storeLocation, not shown as the
// flag's default: it may hold a password.
func (a *cmdline) storeFlag(fs *pflag.FlagSet) {
	fs.StringVar(&a.store, "store", "", "where the state is instead of --state-dir's state.db: postgres://USER:PASSWORD@HOST/DB for a team's PostgreSQL, or bbolt:PATH (env CLANKERD_STORE; see docs/team.md)")
}

// storeLocation is --store, else $CLANKERD_STORE; "" is the state directory's state.db.
func (a *cmdline) storeLocation() string {
	if a.store != "" {
		return a.store
	}
	return os.Getenv("CLANKERD_STORE")
}

func (a *cmdline) storeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Manage where the state is kept: PostgreSQL schema migrations, copying bbolt history",
		Args:  args(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.storeMigrateCommand(), a.storeCopyCommand())
	return cmd
}

func (a *cmdline) storeMigrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the schema migrations of the --store PostgreSQL database and print its versions",
		Long: `migrate applies the schema migrations the PostgreSQL store named by --store (or
CLANKERD_STORE) lacks, in one transaction, and prints the versions before and after.
Every command applies them when it opens the store, so this is for doing it ahead of a
rollout, as a user allowed to create tables. A database migrated by a newer clankerd is
refused: upgrade clankerd.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			location := a.storeLocation()
			if !store.IsPostgres(location) {
				return withCode(exitBadInput, errors.New("store migrate: pass --store postgres://… (or set CLANKERD_STORE); a bbolt file migrates itself when it is opened"))
			}
			m, err := store.MigratePostgres(cmd.Context(), location)
			if err != nil {
				return err
			}
			db, err := store.OpenPostgres(cmd.Context(), location, store.Options{})
			if err != nil {
				return err
			}
			where := db.Path()
			if err := db.Close(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: schema migration %d → %d, state schema version %d\n", where, m.From, m.To, store.SchemaVersion)
			return nil
		},
	}
}

func (a *cmdline) storeCopyCommand() *cobra.Command {
	var from, to, output string
	var replace bool
	cmd := &cobra.Command{
		Use:   "copy --from bbolt:PATH --to postgres://…",
		Short: "Copy every record from one store to another, then verify the counts and the audit chain",
		Long: `copy moves a state's whole history — receipts, findings, baselines, plans, the audit
chain, mutes, the outbox and delivery state — from one store to another, verbatim and
in one transaction of the target, then verifies that every bucket holds as many records
at the same sequence and that the target's audit chain verifies.

--from and --to are bbolt:PATH (a state.db file, or a state directory), or a
postgres:// URL. The source must not be in use (stop the daemon first). The target must
be empty; --replace deletes what it holds first. Keep the state directory's
integrity.key for the target's daemons: plans are signed with it (docs/team.md).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return withCode(exitBadInput, errors.New("store copy: pass --from and --to (bbolt:PATH or postgres://…)"))
			}
			if !store.IsPostgres(from) {
				if _, err := os.Stat(store.BoltPath(from)); err != nil {
					return withCode(exitBadInput, fmt.Errorf("store copy --from %s: %w; name a state.db file or a state directory that holds one", from, err))
				}
			}
			src, err := store.OpenLocation(cmd.Context(), from, store.Options{Timeout: lockWaitCopy})
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := store.OpenLocation(cmd.Context(), to, store.Options{Timeout: lockWaitCopy})
			if err != nil {
				return err
			}
			defer dst.Close()
			res, err := store.Copy(cmd.Context(), src, dst, replace)
			if errors.Is(err, store.ErrTargetNotEmpty) {
				return withCode(exitRefused, err)
			}
			if err != nil {
				return err
			}
			if output == "json" {
				return view.WriteJSON(a.stdout, res)
			}
			return writeCopy(a, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the store to copy: bbolt:PATH or postgres://…")
	f.StringVar(&to, "to", "", "the empty store to copy into: postgres://… or bbolt:PATH")
	f.BoolVar(&replace, "replace", false, "delete what the target holds before copying")
	outputFlag(cmd, &output, "text", "json")
	return cmd
}

// lockWaitCopy is how long copy waits for a bbolt file's lock.
const lockWaitCopy = time.Second

func writeCopy(a *cmdline, res store.CopyResult) error {
	fmt.Fprintf(a.stdout, "copied %s to %s\n", res.From, res.To)
	w := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "BUCKET\tKEYS\tSEQUENCE")
	for _, b := range res.Buckets {
		fmt.Fprintf(w, "%s\t%d\t%d\n", b.Bucket, b.Keys, b.Sequence)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "verified: every bucket's keys and sequence, audit chain intact (%d records)\n", res.AuditRecords)
	return nil
}
