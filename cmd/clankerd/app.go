package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/checks/probe"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/config"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/route"
	"github.com/clankerd/clankerd/internal/view"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes, documented in docs/cli.md.
const (
	exitOK       = 0
	exitProblems = 1 // a check failed; the audit chain is broken
	exitErr      = 2 // could not evaluate or could not do it
	exitBadInput = 3 // invalid heartbeat, flags or arguments
	exitRefused  = 4 // approve or reject refused
)

// cmdline holds what every command shares: standard streams, global flags, and how to
// reach the state.
type cmdline struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	reload         <-chan os.Signal

	stateDir   string
	store      string
	configPath string
	logLevel   string
	logger     *slog.Logger
	// server, when its URL is set, is the team server the commands reach instead.
	server serverFlags
}

// codedError carries an exit code through cobra; only main prints and exits.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codedError{code: code, err: err}
}

// quietExit ends with a code after the command has said everything itself.
type quietExit int

func (q quietExit) Error() string { return fmt.Sprintf("exit %d", int(q)) }

func (a *cmdline) exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var q quietExit
	if errors.As(err, &q) {
		return int(q)
	}
	// An error may quote a server, a plan's observed state or a question.
	fmt.Fprintln(a.stderr, "clankerd:", view.Redact(err.Error()))
	var e *codedError
	if errors.As(err, &e) {
		return e.code
	}
	return exitErr
}

// args wraps a cobra argument validator so that wrong arguments exit with
// exitBadInput.
func args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := v(cmd, a); err != nil {
			return withCode(exitBadInput, fmt.Errorf("%s: %w; see --help", cmd.CommandPath(), err))
		}
		return nil
	}
}

func (a *cmdline) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "clankerd",
		Short: "Local-first infrastructure monitor and change gate",
		Long: `clankerd runs the checks written in HEARTBEAT.md files against your infrastructure,
with your own credentials, keeps a history of what it finds, and applies changes only
through plans that you approve with 'clankerd approve'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setup()
		},
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetIn(a.stdin)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return withCode(exitBadInput, fmt.Errorf("%w; see --help", err))
	})
	root.PersistentFlags().StringVar(&a.stateDir, "state-dir", defaultStateDir(), "directory for the database and control socket (env CLANKERD_STATE_DIR)")
	a.storeFlag(root.PersistentFlags())
	root.PersistentFlags().StringVar(&a.configPath, "config", defaultConfig(), "clankerd's configuration: what agents may reach (see docs/config.md); a missing file allows agents nothing more")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn, error (logs go to stderr)")
	a.server.register(root.PersistentFlags())
	root.AddCommand(
		a.lintCommand(), a.checkCommand(), a.askCommand(), a.mcpCommand(), a.runCommand(), a.statusCommand(), a.runsCommand(),
		a.findingsCommand(), a.diffCommand(), a.plansCommand(), a.planCommand(), a.approveCommand(),
		a.rejectCommand(), a.auditCommand(), a.versionCommand(), a.scanCommand(),
		a.muteCommand(), a.mutesCommand(), a.unmuteCommand(), a.baselineCommand(), a.changesCommand(), a.notifyCommand(), a.policyCommand(),
		a.storeCommand(),
	)
	return root
}

func (a *cmdline) setup() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return withCode(exitBadInput, fmt.Errorf("--log-level %q: use debug, info, warn or error", a.logLevel))
	}
	a.logger = view.NewLogger(a.stderr, level)
	return nil
}

// defaultStateDir is $CLANKERD_STATE_DIR, else $XDG_STATE_HOME/clankerd, else
// ~/.local/state/clankerd.
func defaultStateDir() string {
	if d := os.Getenv("CLANKERD_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "clankerd")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "clankerd")
	}
	return filepath.Join(home, ".local", "state", "clankerd")
}

// defaultHeartbeat is $XDG_CONFIG_HOME/clankerd/HEARTBEAT.md, else
// ~/.config/clankerd/HEARTBEAT.md.
func defaultHeartbeat() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "clankerd", "HEARTBEAT.md")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "HEARTBEAT.md"
	}
	return filepath.Join(home, ".config", "clankerd", "HEARTBEAT.md")
}

// defaultConfig is config.yaml beside the default heartbeat.
func defaultConfig() string {
	return filepath.Join(filepath.Dir(defaultHeartbeat()), config.FileName)
}

func heartbeatArgs(args []string) []string {
	if len(args) == 0 {
		return []string{defaultHeartbeat()}
	}
	return args
}

// providers are the checks and tasks of this build, and what must be closed when the
// command ends.
type providers struct {
	registry *checks.Registry
	linked   []provider
	keys     []string // linked[i] is the provider `scan --provider keys[i]` names
	rt       *route.Router
	resolver *route.Resolver
}

// newProviders registers every check and task this build knows. watch is for the
// daemon: providers keep watch-based caches instead of listing on every run.
func (a *cmdline) newProviders(watch bool) (*providers, error) {
	r := checks.NewRegistry()
	if err := probe.Register(r); err != nil {
		return nil, fmt.Errorf("registering probe checks: %w", err)
	}
	linked, keys, err := registerProviders(r, providerOptions{Watch: watch, Logger: a.logger})
	if err != nil {
		return nil, err
	}
	if err := registerTestTasks(r); err != nil {
		return nil, errors.Join(fmt.Errorf("registering test tasks: %w", err), closeProviders(linked))
	}
	return &providers{registry: r, linked: linked, keys: keys}, nil
}

// router routes questions over this build's catalog, with the names the providers
// know (contexts, namespaces, profiles).
func (p *providers) router() *route.Router {
	if p.rt == nil {
		p.rt = route.New(p.registry, append(routeProviders(p.linked), testRouteProviders()...)...)
		p.resolver = &route.Resolver{Router: p.rt}
	}
	return p.rt
}

// resolve routes the plain-language items of the files to checks (once per text).
func (p *providers) resolve(ctx context.Context, files []*heartbeat.File) {
	p.router()
	for _, f := range files {
		p.resolver.Resolve(ctx, f)
	}
}

// Close stops what the providers started.
func (p *providers) Close() error { return closeProviders(p.linked) }

// actorName is the local user, for the audit log. Through the daemon's socket the
// daemon records the user of this process from its peer credentials instead.
func actorName() string { return control.UserName(os.Getuid()) }

// withBackend runs fn with the state (the team server of --server, the daemon's
// socket, or the database) and closes it afterwards. reg may be nil; the backend needs it only to apply approved plans.
func (a *cmdline) withBackend(ctx context.Context, reg *checks.Registry, fn func(control.Backend) error) (err error) {
	if a.server.url != "" {
		c, derr := a.server.dial(ctx, a.stderr)
		if derr != nil {
			return derr
		}
		defer func() { err = errors.Join(err, c.Close()) }()
		return fn(c)
	}
	if reg == nil {
		provs, err := a.newProviders(false)
		if err != nil {
			return err
		}
		defer provs.Close()
		reg = provs.registry
	}
	b, err := app.OpenStore(ctx, a.stateDir, a.storeLocation(), reg, a.logger)
	if err != nil {
		return withCode(exitErr, err)
	}
	defer func() { err = errors.Join(err, b.Close()) }()
	return fn(b)
}

// outputFlag adds --output/-o with the allowed formats; the first is the default.
func outputFlag(cmd *cobra.Command, dst *string, formats ...string) {
	cmd.Flags().StringVarP(dst, "output", "o", formats[0], "output format: "+strings.Join(formats, ", "))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		ok := false
		for _, f := range formats {
			ok = ok || f == *dst
		}
		if !ok {
			return withCode(exitBadInput, fmt.Errorf("--output %q: use one of %s", *dst, strings.Join(formats, ", ")))
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}
