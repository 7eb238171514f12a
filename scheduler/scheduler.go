// Package scheduler decides when heartbeat items run: it follows each item's schedule
// by the wall clock, collapses ticks missed during downtime or sleep into one catch-up
// run, never overlaps runs of one item, honours active hours, bounds how many runs are
// in flight, and hands every tick (run or skipped) to a Dispatcher.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
)

// maxMissedCount caps how far missed ticks are counted after a long downtime.
const maxMissedCount = 10_000

// Job is one scheduled item: the item says when it fires (its schedule, active hours
// and jitter) and is its identity (its key); it is passed to the dispatcher untouched.
type Job struct {
	Item heartbeat.Item
	// LastScheduled is the scheduled time of the job's last tick before this scheduler
	// started (from the store), or zero. Ticks missed since then collapse into one.
	LastScheduled time.Time
}

// key is the job's identity: its item's.
func (j Job) key() string { return j.Item.Key }

// next is the first time after t that the job fires.
func (j Job) next(t time.Time) time.Time { return j.Item.Schedule.Next(t) }

// jitter delays each run of the job by a stable per-key offset in [0, Item.Jitter).
func (j Job) jitter() time.Duration { return jitterOffset(j.Item.Key, j.Item.Jitter) }

// Tick is one firing of a job.
type Tick struct {
	Job Job
	// Scheduled is the tick's scheduled time, without jitter.
	Scheduled time.Time
	// Missed counts earlier scheduled times this tick stands for.
	Missed int
	// CatchUp marks a tick that stands for ticks missed while the daemon was down or
	// the machine slept.
	CatchUp bool
	// Skip, when set, says why the tick does not run; the dispatcher records it.
	Skip string
	// Round is shared by the ticks that fire at the same wake-up.
	Round *checks.Round
}

// Dispatcher runs or records ticks.
type Dispatcher interface {
	Dispatch(ctx context.Context, t Tick)
}

// Options configure a Scheduler.
type Options struct {
	Dispatcher Dispatcher
	// MaxConcurrent bounds the runs in flight across all jobs (default 4).
	MaxConcurrent int
	// Now is the wall clock (default time.Now).
	Now func() time.Time
	// MaxSleep is the longest the scheduler sleeps before reading the wall clock
	// again, so a suspend that stopped its timers is noticed (default 30s).
	MaxSleep time.Duration
	Logger   *slog.Logger
}

// Entry describes a job's next run.
type Entry struct {
	Key     string
	Next    time.Time
	Running bool
}

// Scheduler fires jobs on their schedules.
type Scheduler struct {
	dispatcher Dispatcher
	now        func() time.Time
	maxSleep   time.Duration
	log        *slog.Logger
	sem        chan struct{}
	wake       chan struct{}

	// runCtx is the context of dispatched runs: it outlives Run, and Wait cancels it
	// when the grace period is over.
	runCtx     context.Context
	cancelRuns context.CancelFunc
	inflight   sync.WaitGroup

	mu   sync.Mutex
	jobs map[string]*jobState
}

type jobState struct {
	job Job
	// next is the next scheduled time (without jitter); base what it was computed from.
	next, base   time.Time
	catchUp      bool
	running      bool
	runningSince time.Time
}

// New returns a scheduler with no jobs.
func New(opts Options) (*Scheduler, error) {
	if opts.Dispatcher == nil {
		return nil, errors.New("scheduler: a Dispatcher is required")
	}
	if opts.MaxConcurrent < 0 || opts.MaxSleep < 0 {
		return nil, errors.New("scheduler: MaxConcurrent and MaxSleep must not be negative")
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 4
	}
	if opts.MaxSleep == 0 {
		opts.MaxSleep = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		dispatcher: opts.Dispatcher, now: opts.Now, maxSleep: opts.MaxSleep, log: opts.Logger,
		sem: make(chan struct{}, opts.MaxConcurrent), wake: make(chan struct{}, 1),
		runCtx: runCtx, cancelRuns: cancel, jobs: map[string]*jobState{},
	}, nil
}

// Update replaces the job set. A job whose key and schedule are unchanged keeps its
// next time and running state; a new job waits for its first tick, unless its
// LastScheduled says ticks were missed, which then run once, now; a removed job stops
// firing (a run in flight finishes).
func (s *Scheduler) Update(jobs []Job) {
	now := s.now()
	s.mu.Lock()
	next := make(map[string]*jobState, len(jobs))
	for _, j := range jobs {
		if j.next(now).IsZero() {
			s.log.Error("job without schedule ignored", "item", j.Item.Pos())
			continue
		}
		if old, ok := s.jobs[j.key()]; ok {
			if !j.next(old.base).Equal(old.next) {
				old.base, old.next, old.catchUp = now, j.next(now), false
			}
			old.job = j
			next[j.key()] = old
			continue
		}
		st := &jobState{job: j, base: now, next: j.next(now)}
		if !j.LastScheduled.IsZero() {
			if n := j.next(j.LastScheduled); !n.IsZero() && !n.After(now) {
				st.base, st.next, st.catchUp = j.LastScheduled, n, true
			}
		}
		next[j.key()] = st
	}
	s.jobs = next
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run fires jobs until ctx is done. Runs in flight are not cancelled by ctx: call Wait
// afterwards.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		now := s.now()
		s.fire(s.due(now))
		timer := time.NewTimer(s.sleepFor(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-s.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// due collects the ticks due at now and advances their jobs past now.
func (s *Scheduler) due(now time.Time) []Tick {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ticks []Tick
	for _, st := range s.jobs {
		offset := st.job.jitter()
		if st.next.IsZero() || st.next.Add(offset).After(now) {
			continue
		}
		scheduled, missed := st.next, 0
		for missed < maxMissedCount {
			n := st.job.next(scheduled)
			if n.IsZero() || n.Add(offset).After(now) {
				break
			}
			scheduled = n
			missed++
		}
		ticks = append(ticks, Tick{Job: st.job, Scheduled: scheduled, Missed: missed, CatchUp: st.catchUp || missed > 0})
		st.base, st.next, st.catchUp = scheduled, st.job.next(scheduled), false
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Job.key() < ticks[j].Job.key() })
	return ticks
}

// sleepFor is how long to sleep until the next tick is due, at most MaxSleep.
func (s *Scheduler) sleepFor(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := s.maxSleep
	for _, st := range s.jobs {
		if st.next.IsZero() {
			continue
		}
		if d := st.next.Add(st.job.jitter()).Sub(now); d < wait {
			wait = d
		}
	}
	return max(wait, 0)
}

// fire dispatches the ticks: skipped ones at once, the others in their own goroutine
// once a concurrency slot is free.
func (s *Scheduler) fire(ticks []Tick) {
	if len(ticks) == 0 {
		return
	}
	round := checks.NewRound()
	for _, t := range ticks {
		t.Round = round
		if skip := s.claim(t); skip != "" {
			t.Skip = skip
			s.log.Info("tick skipped", "item", t.Job.Item.Pos(), "check", t.Job.Item.ID, "reason", skip)
			s.dispatcher.Dispatch(s.runCtx, t)
			continue
		}
		if t.CatchUp {
			s.log.Info("catching up missed ticks with one run", "item", t.Job.Item.Pos(), "check", t.Job.Item.ID, "missed", t.Missed)
		}
		s.inflight.Add(1)
		go s.run(t)
	}
}

// claim marks the tick's job running and returns "", or returns why the tick is
// skipped.
func (s *Scheduler) claim(t Tick) string {
	if !t.Job.Item.ActiveHours.Contains(t.Scheduled) {
		return "outside active hours"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.jobs[t.Job.key()]
	if st == nil {
		return "removed from the heartbeat"
	}
	if st.running {
		return fmt.Sprintf("previous run still in progress (started %s)", st.runningSince.Format(time.RFC3339))
	}
	st.running, st.runningSince = true, s.now()
	return ""
}

func (s *Scheduler) run(t Tick) {
	defer s.inflight.Done()
	defer s.release(t.Job.key())
	select {
	case s.sem <- struct{}{}:
	case <-s.runCtx.Done():
		return
	}
	defer func() { <-s.sem }()
	s.dispatcher.Dispatch(s.runCtx, t)
}

func (s *Scheduler) release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.jobs[key]; st != nil {
		st.running = false
	}
}

// Wait waits up to grace for runs in flight after Run returned, then cancels them and
// waits for them to return. The error names the runs that had to be cancelled.
func (s *Scheduler) Wait(grace time.Duration) error {
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(done)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
		s.cancelRuns()
		return nil
	case <-timer.C:
	}
	var names []string
	s.mu.Lock()
	for _, st := range s.jobs {
		if st.running {
			names = append(names, st.job.Item.Pos()+" ("+st.job.Item.ID+")")
		}
	}
	s.mu.Unlock()
	sort.Strings(names)
	s.cancelRuns()
	<-done
	return fmt.Errorf("cancelled runs still in flight after the %s grace period: %s", grace, strings.Join(names, ", "))
}

// Entries lists every job's next run (jitter included), sorted by key.
func (s *Scheduler) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, 0, len(s.jobs))
	for key, st := range s.jobs {
		out = append(out, Entry{Key: key, Next: st.next.Add(st.job.jitter()), Running: st.running})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// jitterOffset is a stable offset in [0, jitter) derived from the key.
func jitterOffset(key string, jitter time.Duration) time.Duration {
	if jitter <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return time.Duration(h.Sum64() % uint64(jitter))
}
