package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/notify"
	"github.com/clankerd/clankerd/internal/view"
)

// defaultNotifyConfig is $XDG_CONFIG_HOME/clankerd/notify.yaml, else
// ~/.config/clankerd/notify.yaml.
func defaultNotifyConfig() string {
	return filepath.Join(filepath.Dir(defaultHeartbeat()), "notify.yaml")
}

func (a *cmdline) notifyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "notify", Short: "Notification targets: send a test notification"}
	var configPath string
	var heartbeats []string
	test := &cobra.Command{
		Use:   "test [TARGET]",
		Short: "Send a sample notification to every target (or one), now, and say whether it arrived",
		Long: `test reads the notification targets the daemon would use (the config file and the
notify: front matter of the heartbeat files), and sends each of them, or only TARGET, a
sample notification right away, without the outbox. It prints each target's result.
URLs and secrets are never printed.

Exit codes: 0 every target accepted it, 2 a target failed, 3 bad configuration or no
such target.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			cfg, err := a.loadNotifyConfig(configPath, heartbeats)
			if err != nil {
				return withCode(exitBadInput, err)
			}
			dests := cfg.Destinations
			if len(dests) == 0 {
				return withCode(exitBadInput, fmt.Errorf("no notification targets: declare them in %s or under notify: in a heartbeat's front matter (see docs/notifications.md)", configPath))
			}
			if len(argv) == 1 {
				i := slices.IndexFunc(dests, func(d notify.Destination) bool { return d.Name == argv[0] })
				if i < 0 {
					var names []string
					for _, d := range dests {
						names = append(names, d.Name)
					}
					return withCode(exitBadInput, fmt.Errorf("no target %q; the targets are: %s", argv[0], strings.Join(names, ", ")))
				}
				dests = dests[i : i+1]
			}
			return a.sendSamples(cmd.Context(), cfg.Policy, dests)
		},
	}
	test.Flags().StringVar(&configPath, "notify-config", defaultNotifyConfig(), "notification config file")
	test.Flags().StringSliceVar(&heartbeats, "heartbeat", nil, "heartbeat file whose front matter declares targets; repeatable (default "+defaultHeartbeat()+")")
	cmd.AddCommand(test)
	return cmd
}

// loadNotifyConfig reads the targets from the config file and the heartbeat files'
// front matter; a heartbeat file that does not exist is left out.
func (a *cmdline) loadNotifyConfig(configPath string, heartbeats []string) (notify.Config, error) {
	env := notify.Env{}
	cfg, err := notify.LoadFile(configPath, env)
	if err != nil {
		return cfg, err
	}
	var lists [][]notify.Destination
	var paths []string
	for _, p := range heartbeatArgs(heartbeats) {
		if _, err := os.Stat(p); err == nil || len(heartbeats) > 0 {
			paths = append(paths, p)
		}
	}
	if len(paths) > 0 {
		provs, err := a.newProviders(false)
		if err != nil {
			return cfg, err
		}
		defer provs.Close()
		files, err := heartbeat.Load(paths, provs.registry)
		if err != nil {
			return cfg, err
		}
		var errs []error
		for _, f := range files {
			dests, err := notify.FromHeartbeat(f, env)
			errs = append(errs, err)
			lists = append(lists, dests)
		}
		if err := errors.Join(errs...); err != nil {
			return cfg, err
		}
	}
	cfg.Destinations, err = notify.Merge(cfg.Destinations, lists...)
	return cfg, err
}

// sendSamples sends the sample notification to each destination and reports.
func (a *cmdline) sendSamples(ctx context.Context, p notify.Policy, dests []notify.Destination) error {
	key := "test-" + strings.TrimPrefix(fmt.Sprint(time.Now().UnixNano()), "-")
	sample := view.Sample(key, time.Now())
	failed := 0
	for _, d := range dests {
		sctx, cancel := context.WithTimeout(ctx, p.Timeout)
		err := d.Target.Send(sctx, sample)
		cancel()
		if err != nil {
			failed++
			fmt.Fprintln(a.stdout, view.Redact(fmt.Sprintf("%s (%s, %s): failed: %v", d.Name, d.Type, d.Where, err)))
			continue
		}
		fmt.Fprintln(a.stdout, view.Redact(fmt.Sprintf("%s (%s, %s): delivered", d.Name, d.Type, d.Where)))
	}
	if failed > 0 {
		return withCode(exitErr, fmt.Errorf("%d of %d targets did not accept the sample", failed, len(dests)))
	}
	return nil
}
