package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/approvals"
	"github.com/clankerd/clankerd/internal/daemon"
	"github.com/clankerd/clankerd/internal/httpx"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

func (a *cmdline) runCommand() *cobra.Command {
	var cfg daemon.Config
	var mf modelFlags
	var approveByPolicy bool
	var approvalsPath string
	var lf leaderFlags
	var api apiFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the daemon: schedule the heartbeat items, reload on edits, serve the control socket",
		Long: `run is the daemon. It runs every item on its schedule and records a receipt for every
tick, reloads the heartbeat files when they change on disk or on SIGHUP (a broken edit
keeps the last good items running and logs FILE:LINE), and serves the other commands on
a unix socket (mode 0600) in the state directory. SIGTERM or SIGINT lets runs in flight
finish within --grace, then closes the database cleanly.

A --heartbeat directory runs every *.md file in it and notices files added, changed or
removed, including a Kubernetes ConfigMap mounted as a volume (the kubelet's atomic
swap of its ..data link). With --leader-elect, several replicas share one --store and
only the elected one schedules checks, delivers notifications and expires plans; every
replica serves the API and reloads its heartbeat files (docs/team.md).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.MetricsListen != "" {
				if err := httpx.CheckListen(cfg.MetricsListen, cfg.MetricsAllowRemote, "--metrics-listen", "--metrics-allow-remote"); err != nil {
					return withCode(exitBadInput, err)
				}
			}
			serveAPI, closeAPI, err := api.open(a.logger)
			if err != nil {
				return err
			}
			defer closeAPI()
			cfg.API = serveAPI
			provs, err := a.newProviders(true)
			if err != nil {
				return err
			}
			defer provs.Close()
			reg := provs.registry
			if len(cfg.Heartbeats) == 0 {
				cfg.Heartbeats = []string{defaultHeartbeat()}
			}
			cfg.StateDir, cfg.Store, cfg.Registry, cfg.Version = a.stateDir, a.storeLocation(), reg, version
			cfg.Reload, cfg.Logger = a.reload, a.logger
			cfg.Resolve = func(ctx context.Context, f *heartbeat.File) { provs.resolve(ctx, []*heartbeat.File{f}) }
			if cfg.AfterRun, err = mf.afterRun(a.stateDir, a.logger, true); err != nil {
				return withCode(exitBadInput, err)
			}
			cfg.ModelStatus = mf.status
			if approveByPolicy {
				pol, err := approvals.Load(approvalsPath, reg)
				if err != nil {
					return withCode(exitBadInput, fmt.Errorf("--approve-by-policy: %w", err))
				}
				cfg.FixPolicy = &pol
			}
			if cfg.Elector, err = lf.elector(a.storeLocation()); err != nil {
				return withCode(exitBadInput, err)
			}
			return daemon.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Heartbeats, "heartbeat", nil, "heartbeat file, or directory of *.md heartbeat files (a mounted ConfigMap), to run; repeatable (default "+defaultHeartbeat()+")")
	f.DurationVar(&cfg.Grace, "grace", daemon.DefaultGrace, "how long runs in flight may take to finish on shutdown")
	f.IntVar(&cfg.MaxConcurrent, "max-concurrent", runner.DefaultMaxConcurrent, "runs in flight at most")
	f.DurationVar(&cfg.PlanExpiry, "plan-expiry", tasks.DefaultExpiry, "how long a queued plan waits for approval")
	f.IntVar(&cfg.Retention.MaxRuns, "keep-runs", store.DefaultRetention.MaxRuns, "receipts to keep at most (0: no limit)")
	f.DurationVar(&cfg.Retention.MaxAge, "keep-runs-for", store.DefaultRetention.MaxAge, "receipts older than this are pruned (0: no limit)")
	mf.register(cmd)
	f.StringVar(&cfg.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics on HOST:PORT (loopback only, such as 127.0.0.1:9464)")
	f.BoolVar(&cfg.MetricsAllowRemote, "metrics-allow-remote", false, "allow --metrics-listen on a non-loopback address")
	f.StringVar(&cfg.NotifyConfig, "notify-config", defaultNotifyConfig(), "notification config file (targets; see docs/notifications.md)")
	f.BoolVar(&approveByPolicy, "approve-by-policy", false, "approve the fix= plans a rule of the approvals policy matches (read at start; see docs/approvals.md); other plans still wait for a person")
	approvalsFlag(f, &approvalsPath)
	lf.register(f)
	api.register(f)
	_ = cmd.MarkFlagFilename("heartbeat", "md")
	return cmd
}
