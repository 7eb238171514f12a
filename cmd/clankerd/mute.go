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

func (a *cmdline) muteCommand() *cobra.Command {
	var check, resource, reason, forText, output string
	cmd := &cobra.Command{
		Use:   "mute (FINGERPRINT | --check ID [--resource GLOB]) --for DURATION --reason TEXT",
		Short: "Silence findings for a while: still recorded and listed, not notified, not failing check",
		Long: `mute silences one finding (by the fingerprint 'clankerd findings' shows) or every
finding of a check id or item key, optionally only on resources matching a glob (* is any
run of characters, ? one character). A muted finding is still recorded and listed, marked
muted; it is not notified and does not make 'clankerd check' exit 1. When the mute
expires the finding notifies again. A reason and an expiry are required. The mute, with
you as its owner, goes into the audit log.

Exit codes: 0 muted, 3 bad input (no reason, no expiry, nothing to match).`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			m := store.Mute{Resource: resource, Reason: reason, Owner: actorName()}
			if len(argv) == 1 {
				m.Fingerprint = argv[0]
			}
			m.Check, m.Item = checkOrItem(check)
			if forText == "" {
				return withCode(exitBadInput, errors.New("mute needs --for DURATION (such as 4h or 7d): mutes do not last forever"))
			}
			d, err := checks.ParseDuration(forText)
			if err != nil || d <= 0 {
				return withCode(exitBadInput, fmt.Errorf("--for %q: give a positive duration such as 4h or 7d", forText))
			}
			m.ExpiresAt = time.Now().Add(d)
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				m, err := control.OpMute.Do(cmd.Context(), b, m)
				if errors.Is(err, store.ErrInvalidMute) {
					return withCode(exitBadInput, err)
				}
				if err != nil {
					return err
				}
				v := view.NewMute(m)
				if output == "json" {
					return view.WriteJSON(a.stdout, v)
				}
				fmt.Fprintf(a.stdout, "muted %s until %s: %s; lift it with: clankerd unmute %s\n", v.Target(), view.When(v.ExpiresAt), v.Reason, v.ID)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&check, "check", "", "mute every finding of this check id (contains a dot) or item key")
	cmd.Flags().StringVar(&resource, "resource", "", "with --check: only findings whose resource matches this glob")
	cmd.Flags().StringVar(&forText, "for", "", "how long the mute lasts, such as 4h, 7d or 2w (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the findings are muted (required)")
	outputFlag(cmd, &output, "text", "json")
	return cmd
}

func (a *cmdline) mutesCommand() *cobra.Command {
	var all bool
	var output string
	cmd := &cobra.Command{
		Use:   "mutes [--all]",
		Short: "List active mutes (with --all also expired and lifted ones)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				ms, err := control.OpMutes.Do(cmd.Context(), b, control.MutesRequest{All: all})
				if err != nil {
					return err
				}
				out := view.Mutes(ms)
				if output == "json" {
					return view.WriteJSON(a.stdout, map[string]any{"mutes": out})
				}
				return view.WriteMutes(a.stdout, out, time.Now())
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include expired and lifted mutes")
	outputFlag(cmd, &output, "text", "json")
	return cmd
}

func (a *cmdline) unmuteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unmute ID",
		Short: "Lift a mute now; its findings notify again on their next change",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			return a.withBackend(cmd.Context(), nil, func(b control.Backend) error {
				m, err := control.OpUnmute.Do(cmd.Context(), b, control.Decision{ID: argv[0], Actor: actorName()})
				switch {
				case errors.Is(err, store.ErrNotFound):
					return withCode(exitBadInput, err)
				case errors.Is(err, store.ErrMuteEnded):
					return withCode(exitRefused, err)
				case err != nil:
					return err
				}
				fmt.Fprintf(a.stdout, "unmuted %s (%s)\n", m.ID, view.NewMute(m).Target())
				return nil
			})
		},
	}
	return cmd
}
