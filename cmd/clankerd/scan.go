package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/route"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/scan"
	"github.com/clankerd/clankerd/internal/view"
)

// progressDelay is how long a scan runs before it shows a progress line on a
// terminal.
const progressDelay = 2 * time.Second

func (a *cmdline) scanCommand() *cobra.Command {
	var output, provider string
	var scope scan.Scope
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Run every check of the configured providers once, without a heartbeat",
		Long: `scan points clankerd at what your kubeconfig, AWS configuration and GitHub token
reach: it runs every check of the chosen providers once, read-only (no task, no fix=),
records the runs like check does, so a second scan says which findings are new, and
prints the results with a summary by severity and category. Checks that need a
parameter only a heartbeat can give (a budget) are listed as not scanned. A provider
with nothing configured (no kubeconfig, no AWS credentials, no GitHub token) comes
out skipped, never passed.

--context, --namespace and --profile are given to the checks that take context=,
namespace= and profile=; --owner, --repos, --topic and --api-url to the GitHub
checks' owner=, repos=, topic= and api_url= (without them, the token's own
repositories on GH_HOST or github.com). -o json has the shape of check -o json;
-o junit and -o sarif are for CI test reports and code-scanning dashboards
(docs/scan.md).

Exit codes: 0 all passed or were skipped, 1 a check failed, 2 a check could not be
evaluated (error) and none failed, 3 bad flags.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			defer app.KeepHeapNearLive()()
			provs, err := a.newProviders(false)
			if err != nil {
				return err
			}
			defer provs.Close()
			owners, err := provs.owners(provider)
			if err != nil {
				return withCode(exitBadInput, err)
			}
			plan, err := scan.Items(provs.registry, owners, scope)
			if err != nil {
				return withCode(exitBadInput, err)
			}
			progress := a.progress(len(plan.Items))
			var outcomes []runner.Outcome
			err = a.withBackend(cmd.Context(), provs.registry, func(b control.Backend) error {
				r := app.NewRunner(provs.registry, b, app.RunnerOptions{
					Actor: actorName(), Logger: a.logger,
					AfterRun: func(context.Context, *runner.Outcome) { progress.Step() },
				})
				outcomes = r.RunAll(cmd.Context(), plan.Items)
				return nil
			})
			progress.Stop()
			if err != nil {
				return err
			}
			rs := view.NewResults(outcomes)
			if err := a.printResults(rs, output, provs.registry); err != nil {
				return err
			}
			if output == "text" {
				view.NewScanSummary(rs, provs.registry, plan.Left).WriteText(a.stdout)
			}
			if code := outcomeExitCode(outcomes); code != exitOK {
				return quietExit(code)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&provider, "provider", "all", "scan the checks of this provider: "+strings.Join(providerKeys(), ", ")+" or all")
	cmd.Flags().StringVar(&scope.Context, "context", "", "kubeconfig context (default: the current context)")
	cmd.Flags().StringVar(&scope.Namespace, "namespace", "", "only this Kubernetes namespace (default: all namespaces)")
	cmd.Flags().StringVar(&scope.Profile, "profile", "", "AWS shared config profile (default: AWS_PROFILE, then default)")
	cmd.Flags().StringVar(&scope.Owner, "owner", "", "GitHub organization or user: every non-archived repository (default: the token's own repositories)")
	cmd.Flags().StringVar(&scope.Repos, "repos", "", "GitHub repositories OWNER/NAME, comma-separated; wins over --owner")
	cmd.Flags().StringVar(&scope.Topic, "topic", "", "with --owner: only GitHub repositories with this topic")
	cmd.Flags().StringVar(&scope.APIURL, "api-url", "", "GitHub API base URL, such as https://ghe.example.com/api/v3/ (default: from GH_HOST)")
	outputFlag(cmd, &output, "text", "json", "junit", "sarif")
	return cmd
}

// providerKeys are the names --provider takes, of every provider a build may link.
func providerKeys() []string {
	var keys []string
	for _, l := range linkedProviders() {
		keys = append(keys, l.key)
	}
	return keys
}

// owners are the providers a scan of --provider key covers: every one this build
// links for "all".
func (p *providers) owners(key string) ([]route.Owner, error) {
	var out []route.Owner
	for i, k := range p.keys {
		if o, ok := p.linked[i].(route.Owner); ok && (key == "all" || key == k) {
			out = append(out, o)
		}
	}
	if key == "all" || len(out) > 0 {
		return out, nil
	}
	for _, l := range linkedProviders() {
		if l.key == key {
			return nil, fmt.Errorf("--provider %s: this build leaves the %s provider out (built with -tags clankerd_no%s); use a build with it", key, l.name, key)
		}
	}
	return nil, fmt.Errorf("--provider %q: use one of %s, all", key, strings.Join(providerKeys(), ", "))
}

// progress is the scan's progress line on stderr when stderr is a terminal, and a
// line that is never shown otherwise.
func (a *cmdline) progress(total int) *view.Progress {
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return view.StartProgress(a.stderr, total, progressDelay)
	}
	return view.StartProgress(nil, total, progressDelay)
}
