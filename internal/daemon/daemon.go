// Package daemon runs clankerd as a long-lived process: it loads and watches the
// heartbeat files, schedules their items, records every run, serves the control socket
// and shuts all of it down in reverse order.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/approvals"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/leader"
	"github.com/clankerd/clankerd/internal/notify"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/scheduler"
	"github.com/clankerd/clankerd/tasks"
)

// Config is everything the daemon needs; Run validates it.
type Config struct {
	Heartbeats []string
	// StateDir holds the database (state.db) and the control socket.
	StateDir string
	// Store, when set, is where the state is instead of StateDir's state.db: a
	// postgres:// URL or bbolt:PATH (`--store`).
	Store    string
	Registry *checks.Registry
	Version  string
	// Grace is how long in-flight runs may take to finish after a stop (default
	// DefaultGrace).
	Grace time.Duration
	// MaxConcurrent bounds runs in flight (default runner.DefaultMaxConcurrent).
	MaxConcurrent int
	PlanExpiry    time.Duration
	// Retention bounds the receipts kept; zero fields keep everything.
	Retention store.Retention
	// Reload receives a value for every SIGHUP.
	Reload <-chan os.Signal
	// Resolve routes a loaded file's plain-language items to checks (optional).
	Resolve func(context.Context, *heartbeat.File)
	// AfterRun is called with every recorded check outcome (the model's explanations
	// of new failing findings, with `run --explain`).
	AfterRun func(context.Context, *runner.Outcome)
	// ModelStatus reports the model's budget for `clankerd status` (optional).
	ModelStatus func() *control.ModelInfo
	Logger      *slog.Logger
	// NotifyConfig is the notification config file (notify.yaml); "" or a missing
	// file means targets come only from heartbeat front matter.
	NotifyConfig string
	// Getenv reads the variables notification targets name (default os.Getenv).
	Getenv func(string) string
	// MetricsListen is the HOST:PORT /metrics is served on; "" serves none. Only a
	// loopback address is accepted unless MetricsAllowRemote.
	MetricsListen      string
	MetricsAllowRemote bool
	// FixPolicy, when set (`run --approve-by-policy`), approves the fix= plans its
	// rules match, on behalf of the user the daemon runs as; nil leaves every plan for
	// a person. Only the operator's own approvals.yaml is loaded into it.
	FixPolicy *approvals.Policy
	// Elector, when set (`run --leader-elect`), makes this process one of several
	// replicas on one shared store: every replica serves the control API and reloads
	// the heartbeat files, but only the leader schedules checks, delivers
	// notifications and expires plans. nil: this process is the only one and always
	// leads.
	Elector leader.Elector
	// HandOver is how long runs in flight may take to finish after leadership is lost,
	// before they are cancelled (default DefaultHandOver): shorter than the time another
	// replica waits before it takes over.
	HandOver time.Duration
	// API, when set, serves the team API (`run --listen`) with the daemon's Local
	// beside the control socket, until its context ends (on every replica); the
	// daemon waits for it.
	API func(ctx context.Context, local *control.Local) error
}

// DefaultHandOver is how long runs in flight may finish after leadership is lost; a
// Lease's holder gives up renewing 5 s before others may take over (RenewDeadline 10 s,
// LeaseDuration 15 s).
const DefaultHandOver = 3 * time.Second

// staleApply is how long a plan must have been applying before a new leader marks it
// interrupted: a replica that is alive may be applying it right now (every replica
// serves approvals).
const staleApply = 15 * time.Minute

// DefaultGrace is how long runs in flight may take to finish on shutdown.
const DefaultGrace = 30 * time.Second

// actor is how the daemon appears in the audit log.
const actor = "daemon"

// Run runs the daemon until ctx is done.
func Run(ctx context.Context, cfg Config) (err error) {
	if len(cfg.Heartbeats) == 0 {
		return errors.New("no heartbeat file given: pass --heartbeat FILE")
	}
	if cfg.Registry == nil || cfg.StateDir == "" {
		return errors.New("daemon: Registry and StateDir are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.HandOver <= 0 {
		cfg.HandOver = DefaultHandOver
	}
	log := cfg.Logger

	retention := cfg.Retention
	local, err := app.OpenLocalStore(ctx, cfg.StateDir, cfg.Store, store.Options{Retention: &retention}, cfg.Registry, log)
	if err != nil {
		return err
	}
	db := local.DB
	defer func() { err = errors.Join(err, db.Close()) }()

	if cfg.Elector == nil {
		// The only process on this store: whatever is still open, it left open.
		if err := recoverInterrupted(ctx, db, local.Tasks, time.Time{}, log); err != nil {
			return err
		}
	}

	mtr, metricsLn, err := listenMetrics(cfg, db)
	if err != nil {
		return err
	}
	if metricsLn != nil {
		defer metricsLn.Close()
	}

	d := &daemon{cfg: cfg, db: db, log: log, started: time.Now(), good: map[string]*heartbeat.File{}}
	local.Daemon = d.info
	senderOpts := notify.SenderOptions{Store: db, Logger: log}
	if mtr != nil {
		local.Observe, senderOpts.Observe = mtr.ObserveRun, mtr.ObserveDelivery
		local.ObserveRecord = mtr.ObserveRecord
	}
	d.local = local
	opts := app.RunnerOptions{
		Actor: "scheduler", PlanExpiry: cfg.PlanExpiry, MaxConcurrent: cfg.MaxConcurrent, AfterRun: cfg.AfterRun, Logger: log,
	}
	if cfg.FixPolicy != nil {
		opts.FixApprover = &app.PolicyApprover{Policy: *cfg.FixPolicy, State: local, User: control.UserName(os.Getuid())}
	}
	d.runner = app.NewRunner(cfg.Registry, local, opts)
	if d.sender, err = notify.NewSender(senderOpts); err != nil {
		return err
	}

	socket := app.Socket(cfg.StateDir)
	ln, err := control.Listen(socket)
	if err != nil {
		return err
	}
	defer os.Remove(socket)

	d.reload(ctx, "start")
	watcher, err := newWatcher(cfg.Heartbeats, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer watcher.Close()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	var serveErr error
	srv := &control.Server{Local: local, Logger: log}
	wg.Go(func() { serveErr = srv.Serve(runCtx, ln, cfg.Grace) })
	wg.Go(func() { d.watch(runCtx, watcher) })
	var apiErr error
	if cfg.API != nil {
		wg.Go(func() {
			if apiErr = cfg.API(runCtx, local); apiErr != nil {
				stop()
			}
		})
	}
	var metricsErr error
	if mtr != nil {
		wg.Go(func() { metricsErr = mtr.Serve(runCtx, metricsLn) })
		log.Info("serving metrics", "addr", metricsLn.Addr().String())
	}
	log.Info("clankerd daemon ready", "socket", socket, "heartbeats", cfg.Heartbeats, "items", d.itemCount())

	var leadErr error
	if cfg.Elector == nil {
		leadErr = d.lead(runCtx, runCtx)
	} else {
		log.Info("joining the leader election; scheduling waits until this replica leads", "identity", cfg.Elector.ID())
		leadErr = cfg.Elector.Run(runCtx, func(leadCtx context.Context) {
			if err := d.lead(runCtx, leadCtx); err != nil {
				log.Error("leading failed", "err", err)
			}
		})
	}
	stop()
	wg.Wait()
	log.Info("clankerd daemon stopped")
	if errors.Is(leadErr, context.Canceled) {
		leadErr = nil
	}
	return errors.Join(leadErr, serveErr, metricsErr, apiErr)
}

// lead schedules the items, delivers notifications and expires plans until leadCtx
// is done: for as long as this process leads (always, without an Elector). When
// runCtx is done too the daemon is stopping and runs in flight get the grace period;
// otherwise leadership was lost and they get the hand-over time. Every term starts a
// new scheduler from the store's record of the last ticks, so a tick another leader
// ran is not run again.
func (d *daemon) lead(runCtx, leadCtx context.Context) error {
	if d.cfg.Elector != nil {
		d.log.Info("leading: scheduling checks and delivering notifications", "identity", d.cfg.Elector.ID())
		d.audit(leadCtx, "leader.started", d.cfg.Elector.ID(), nil)
		if err := recoverInterrupted(leadCtx, d.db, d.local.Tasks, time.Now().Add(-staleApply), d.log); err != nil {
			d.log.Error("closing what the last leader left open failed", "err", err)
		}
	}
	sched, err := scheduler.New(scheduler.Options{Dispatcher: d.runner, MaxConcurrent: d.cfg.MaxConcurrent, Logger: d.log})
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.sched = sched
	jobs := d.jobs(leadCtx)
	d.mu.Unlock()
	sched.Update(jobs)

	workCtx, stopWork := context.WithCancel(leadCtx)
	var wg sync.WaitGroup
	wg.Go(func() { d.sweep(workCtx, d.local.Tasks) })
	wg.Go(func() { d.sender.Run(workCtx) })
	schedErr := sched.Run(leadCtx)
	grace, why := d.cfg.Grace, "stopping"
	if runCtx.Err() == nil {
		grace, why = d.cfg.HandOver, "leadership lost"
	}
	d.log.Info(why+": waiting for runs in flight", "grace", grace)
	waitErr := sched.Wait(grace)
	stopWork()
	wg.Wait()
	d.mu.Lock()
	d.sched = nil
	d.mu.Unlock()
	if d.cfg.Elector != nil {
		d.log.Info("no longer leading", "reason", why)
	}
	if errors.Is(schedErr, context.Canceled) {
		schedErr = nil
	}
	return errors.Join(schedErr, waitErr)
}

// recoverInterrupted closes receipts and plans a killed daemon left open; a non-zero
// before leaves plans updated since alone (see tasks.Service.RecoverInterrupted).
func recoverInterrupted(ctx context.Context, db *store.DB, plans *tasks.Service, before time.Time, log *slog.Logger) error {
	var n int
	err := db.Update(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.MarkInterrupted("interrupted: clankerd stopped during the run (crash, kill or power loss)")
		return err
	})
	if err != nil {
		return fmt.Errorf("closing runs interrupted by the last stop: %w", err)
	}
	if n > 0 {
		log.Warn("closed runs interrupted by the last stop", "runs", n)
	}
	p, err := plans.RecoverInterrupted(ctx, actor, before)
	if err != nil {
		return fmt.Errorf("closing plans interrupted while applying: %w", err)
	}
	if p > 0 {
		log.Warn("plans were interrupted while applying and are marked failed; check their targets", "plans", p)
	}
	return nil
}

type daemon struct {
	cfg     Config
	db      *store.DB
	local   *control.Local
	runner  scheduler.Dispatcher
	sender  *notify.Sender
	log     *slog.Logger
	started time.Time

	mu sync.Mutex
	// sched is the scheduler of the current term; nil while this replica does not lead.
	sched *scheduler.Scheduler
	good  map[string]*heartbeat.File // last good parse of each file, by path
	// files are the heartbeat files of the last reload (directories expanded), and
	// byEntry the files of each --heartbeat entry.
	files      []string
	byEntry    map[string][]string
	lastLoad   time.Time
	loadErrors []string
	targets    []control.TargetInfo
}

// reload parses every heartbeat file; a file that fails keeps its last good version
// running, and its errors are logged as FILE:LINE and shown by `clankerd status`.
func (d *daemon) reload(ctx context.Context, why string) {
	d.mu.Lock()
	var problems []string
	d.files, d.byEntry, problems = heartbeatFiles(d.cfg.Heartbeats, d.byEntry)
	for _, m := range problems {
		d.log.Error("heartbeat directory unreadable; its last files keep running", "error", m)
	}
	for path := range d.good {
		if !slices.Contains(d.files, path) {
			delete(d.good, path)
			d.audit(ctx, "heartbeat.removed", path, map[string]string{"reason": why})
			d.log.Info("heartbeat file removed; its items stop", "file", path)
		}
	}
	for _, path := range d.files {
		files, err := heartbeat.Load([]string{path}, d.cfg.Registry)
		if err != nil {
			msgs := diagnostics(err)
			problems = append(problems, msgs...)
			for _, m := range msgs {
				d.log.Error("heartbeat has errors; the last good version keeps running", "error", m)
			}
			d.audit(ctx, "heartbeat.rejected", path, map[string]string{"reason": why, "errors": fmt.Sprint(len(msgs)), "first": msgs[0]})
			continue
		}
		f := files[0]
		if d.cfg.Resolve != nil {
			d.cfg.Resolve(ctx, f)
		}
		prev := d.good[path]
		d.good[path] = f
		for _, n := range f.Notices {
			d.log.Warn("heartbeat item not scheduled", "notice", n.Error())
		}
		if prev == nil || prev.Digest != f.Digest {
			action := "heartbeat.loaded"
			if prev != nil {
				action = "heartbeat.reloaded"
			}
			d.audit(ctx, action, path, map[string]string{"reason": why, "digest": f.Digest, "items": fmt.Sprint(len(f.Items))})
			d.log.Info("heartbeat loaded", "file", path, "items", len(f.Items), "reason", why)
		}
	}
	notifyCfg, notifyProblems := d.notifyConfig()
	d.lastLoad, d.loadErrors, d.targets = time.Now(), append(problems, notifyProblems...), targetInfo(notifyCfg)
	sched := d.sched
	var jobs []scheduler.Job
	if sched != nil {
		jobs = d.jobs(ctx)
	}
	d.mu.Unlock()
	d.sender.SetConfig(notifyCfg)
	if sched != nil {
		sched.Update(jobs)
	}
}

func diagnostics(err error) []string {
	var hbErrs heartbeat.Errors
	if errors.As(err, &hbErrs) && len(hbErrs) > 0 {
		out := make([]string, len(hbErrs))
		for i, e := range hbErrs {
			out[i] = e.Error()
		}
		return out
	}
	return []string{err.Error()}
}

// jobs builds scheduler jobs from the good files; d.mu is held.
func (d *daemon) jobs(ctx context.Context) []scheduler.Job {
	last := map[string]time.Time{}
	err := d.db.View(ctx, func(tx *store.Tx) error {
		states, err := tx.ItemStates()
		for _, s := range states {
			last[s.Item] = s.LastScheduled
		}
		return err
	})
	if err != nil {
		d.log.Error("reading the last runs failed; missed ticks will not be caught up", "err", err)
	}
	var jobs []scheduler.Job
	seen := map[string]string{}
	for _, path := range d.files {
		f := d.good[path]
		if f == nil {
			continue
		}
		for _, it := range f.Items {
			if it.Kind == heartbeat.ItemQuestion {
				continue
			}
			if other, dup := seen[it.Key]; dup {
				d.log.Warn("the same item is in two heartbeat files; running it once", "item", it.Pos(), "also", other)
				continue
			}
			seen[it.Key] = it.Pos()
			jobs = append(jobs, scheduler.Job{Item: it, LastScheduled: last[it.Key]})
		}
	}
	return jobs
}

func (d *daemon) audit(ctx context.Context, action, subject string, detail map[string]string) {
	if _, err := control.OpAppendAudit.Do(ctx, d.local, store.AuditEntry{Actor: actor, Action: action, Subject: subject, Detail: detail}); err != nil {
		d.log.Error("writing the audit log failed", "action", action, "err", err)
	}
}

func (d *daemon) itemCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.itemCountLocked()
}

// info describes the daemon for `clankerd status`.
func (d *daemon) info() *control.DaemonInfo {
	var model *control.ModelInfo
	if d.cfg.ModelStatus != nil {
		model = d.cfg.ModelStatus()
	}
	var election *control.ElectionInfo
	if e := d.cfg.Elector; e != nil {
		election = &control.ElectionInfo{Identity: e.ID(), Leader: e.Leader(), Leading: e.IsLeader()}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	next := map[string]time.Time{}
	if d.sched != nil {
		for _, e := range d.sched.Entries() {
			next[e.Key] = e.Next
		}
	}
	return &control.DaemonInfo{
		PID: os.Getpid(), Version: d.cfg.Version, Started: d.started, Heartbeats: d.files,
		Items: d.itemCountLocked(), LastLoad: d.lastLoad, LoadErrors: d.loadErrors, Next: next,
		Targets: d.targets, Model: model, Election: election,
	}
}

func (d *daemon) itemCountLocked() int {
	n := 0
	for _, f := range d.good {
		n += len(f.Items)
	}
	return n
}

// sweep records pending plans past their expiry as expired, once a minute.
func (d *daemon) sweep(ctx context.Context, plans *tasks.Service) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := plans.ExpireDue(ctx, actor); err != nil {
				d.log.Error("expiring plans failed", "err", err)
			} else if n > 0 {
				d.log.Info("plans expired without approval", "plans", n)
			}
		}
	}
}
