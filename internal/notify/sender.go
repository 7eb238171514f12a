package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/view"
)

// Store is the outbox the sender reads and records deliveries in; *store.DB
// implements it.
type Store interface {
	View(ctx context.Context, fn func(*store.Tx) error) error
	Update(ctx context.Context, fn func(*store.Tx) error) error
	OutboxSignal() <-chan struct{}
}

// Attempt describes one finished delivery attempt, for metrics.
type Attempt struct {
	Target string
	// Outcome is store.Delivered, DeliveryFailed, DeliveryExpired, or "" for a
	// failure that will be retried.
	Outcome string
	// Latency is from the event's queueing to this attempt's end.
	Latency time.Duration
}

// SenderOptions configure NewSender.
type SenderOptions struct {
	Store  Store
	Config Config
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Observe, when set, is called after every attempt.
	Observe func(Attempt)
}

// Sender delivers the outbox: every event to every destination that wants it, with
// retry and exponential backoff, at most at each destination's rate, until delivered
// or expired. Delivery state lives in the store, so a restart resumes where it was;
// a notification that was sent but not recorded before a crash is sent again with
// the same idempotency key.
type Sender struct {
	store   Store
	now     func() time.Time
	log     *slog.Logger
	observe func(Attempt)
	changed chan struct{}

	mu       sync.Mutex
	cfg      Config
	limiters map[string]*limiter
}

// NewSender returns a sender; Run starts it.
func NewSender(opts SenderOptions) (*Sender, error) {
	if opts.Store == nil {
		return nil, errors.New("notify: the sender needs a Store")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observe == nil {
		opts.Observe = func(Attempt) {}
	}
	s := &Sender{store: opts.Store, now: opts.Now, log: opts.Logger, observe: opts.Observe, changed: make(chan struct{}, 1)}
	s.SetConfig(opts.Config)
	return s, nil
}

// SetConfig replaces the destinations and policy (on reload). Rate limits carry over
// for destinations whose name and limit stay.
func (s *Sender) SetConfig(cfg Config) {
	if cfg.Policy == (Policy{}) {
		cfg.Policy = DefaultPolicy
	}
	s.mu.Lock()
	old := s.limiters
	s.cfg, s.limiters = cfg, map[string]*limiter{}
	for _, d := range cfg.Destinations {
		if l, ok := old[d.Name]; ok && l.limit == d.RateLimit {
			s.limiters[d.Name] = l
			continue
		}
		s.limiters[d.Name] = &limiter{limit: d.RateLimit}
	}
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *Sender) config() (Config, map[string]*limiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg, s.limiters
}

// Run delivers until ctx is done: at once when events are queued, and when the next
// retry or rate-limit slot is due.
func (s *Sender) Run(ctx context.Context) {
	for {
		next, err := s.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("delivering notifications failed; trying again in 5s", "err", err)
			next = s.now().Add(5 * time.Second)
		}
		var due <-chan time.Time
		var timer *time.Timer
		if !next.IsZero() {
			timer = time.NewTimer(max(next.Sub(s.now()), 0))
			due = timer.C
		}
		select {
		case <-ctx.Done():
		case <-s.store.OutboxSignal():
		case <-s.changed:
		case <-due:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// job is one event to deliver to one destination.
type job struct {
	ev       store.OutboxEvent
	n        view.Notification
	delivery store.Delivery
	routed   []string
}

// outboxPass is what one pass over the outbox decided: the deliveries to attempt per
// destination, the outcomes to record without sending, and when to look again.
type outboxPass struct {
	jobs    map[string][]job
	decided []func(*store.Tx) error
	next    time.Time
}

// later makes t the next time to look, when it comes first.
func (p *outboxPass) later(t time.Time) {
	if p.next.IsZero() || t.Before(p.next) {
		p.next = t
	}
}

// DeliverDue makes one pass over the outbox in named stages: read the events, route
// each to the destinations that want it, expire what is too old, filter what is below
// a destination's minimum severity, deliver what is due, and record every outcome
// (deleting events every destination is done with). It returns when the next attempt is
// due (zero when nothing waits).
func (s *Sender) DeliverDue(ctx context.Context) (time.Time, error) {
	cfg, limiters := s.config()
	events, deliveries, err := s.read(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the notification outbox: %w", err)
	}
	now := s.now()
	p := &outboxPass{jobs: map[string][]job{}}
	for _, ev := range events {
		s.stage(p, cfg, ev, deliveries[ev.Seq], now)
	}
	if err := s.recordAll(ctx, p.decided); err != nil {
		return time.Time{}, fmt.Errorf("recording notification deliveries: %w", err)
	}
	err = s.deliverAll(ctx, cfg, limiters, p)
	return p.next, err
}

// read returns the waiting events, oldest first, and their deliveries so far.
func (s *Sender) read(ctx context.Context) ([]store.OutboxEvent, map[uint64]map[string]store.Delivery, error) {
	var events []store.OutboxEvent
	deliveries := map[uint64]map[string]store.Delivery{}
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if events, err = tx.Outbox(0); err != nil {
			return err
		}
		for _, ev := range events {
			if deliveries[ev.Seq], err = tx.Deliveries(ev.Seq); err != nil {
				return err
			}
		}
		return nil
	})
	return events, deliveries, err
}

// route lists the destinations that take the event.
func route(cfg Config, ev store.OutboxEvent) []string {
	var routed []string
	for _, d := range cfg.Destinations {
		if d.Wants(ev.Item) {
			routed = append(routed, d.Name)
		}
	}
	return routed
}

// stage decides, for each destination the event is routed to and not done with,
// whether it expires, is filtered out, waits for its next attempt or is delivered now.
// An event no destination still waits for is finished.
func (s *Sender) stage(p *outboxPass, cfg Config, ev store.OutboxEvent, done map[string]store.Delivery, now time.Time) {
	routed := route(cfg, ev)
	pending := false
	for _, d := range cfg.Destinations {
		dl, tried := done[d.Name]
		if !slices.Contains(routed, d.Name) || tried && dl.Outcome != "" {
			continue
		}
		pending = true
		n, wanted := view.NewNotification(ev, d.MinSeverity)
		switch {
		case now.Sub(ev.Created) >= cfg.Policy.MaxAge:
			dl.Outcome, dl.Done = store.DeliveryExpired, now
			dl.LastError = fmt.Sprintf("not delivered within %s (%d attempts; last error: %s)", cfg.Policy.MaxAge, dl.Attempts, orNone(dl.LastError))
			s.log.Error("notification expired undelivered", "target", d.Name, "key", ev.ID, "attempts", dl.Attempts)
			s.observe(Attempt{Target: d.Name, Outcome: store.DeliveryExpired, Latency: now.Sub(ev.Created)})
			p.decided = append(p.decided, s.record(ev.Seq, d.Name, dl, routed))
		case !wanted:
			dl.Outcome, dl.Done = store.DeliverySkipped, now
			p.decided = append(p.decided, s.record(ev.Seq, d.Name, dl, routed))
		case dl.NextAttempt.After(now):
			p.later(dl.NextAttempt)
		default:
			p.jobs[d.Name] = append(p.jobs[d.Name], job{ev: ev, n: n, delivery: dl, routed: routed})
		}
	}
	if !pending {
		seq := ev.Seq
		p.decided = append(p.decided, func(tx *store.Tx) error { return tx.FinishEvent(seq) })
	}
}

// recordAll records the outcomes decided without sending, in one transaction.
func (s *Sender) recordAll(ctx context.Context, decided []func(*store.Tx) error) error {
	if len(decided) == 0 {
		return nil
	}
	return s.store.Update(ctx, func(tx *store.Tx) error {
		for _, fn := range decided {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

// deliverAll delivers each destination's due jobs, the destinations side by side.
func (s *Sender) deliverAll(ctx context.Context, cfg Config, limiters map[string]*limiter, p *outboxPass) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, d := range cfg.Destinations {
		js := p.jobs[d.Name]
		if len(js) == 0 {
			continue
		}
		wg.Go(func() {
			retryAt, err := s.deliver(ctx, cfg.Policy, d, limiters[d.Name], js)
			mu.Lock()
			defer mu.Unlock()
			if !retryAt.IsZero() {
				p.later(retryAt)
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// deliver sends a destination's due jobs in order, as its rate limit allows, and
// returns the earliest time it has more to do. After a failure that will be retried
// it stops for this pass: the other jobs wait for the next attempt, so a receiver
// that is down costs one attempt (and at most one timeout) per pass, not one per job.
func (s *Sender) deliver(ctx context.Context, p Policy, d Destination, lim *limiter, js []job) (time.Time, error) {
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, j := range js {
		if ctx.Err() != nil {
			return next, nil
		}
		if ok, at := lim.take(s.now()); !ok {
			s.log.Debug("notification held back by the target's rate limit", "target", d.Name, "key", j.ev.ID, "until", at)
			later(at)
			return next, nil
		}
		sendCtx, cancel := context.WithTimeout(ctx, p.Timeout)
		err := d.Target.Send(sendCtx, j.n)
		cancel()
		if ctx.Err() != nil {
			// Shutting down: the attempt says nothing about the target.
			return next, nil
		}
		now := s.now()
		dl := j.delivery
		dl.Attempts++
		a := Attempt{Target: d.Name, Latency: now.Sub(j.ev.Created)}
		switch {
		case err == nil:
			dl.Outcome, dl.Done, dl.NextAttempt = store.Delivered, now, time.Time{}
			s.log.Debug("notification delivered", "target", d.Name, "key", j.ev.ID, "attempts", dl.Attempts)
		case IsPermanent(err):
			dl.Outcome, dl.Done, dl.LastError = store.DeliveryFailed, now, err.Error()
			s.log.Error("notification refused; not retrying", "target", d.Name, "key", j.ev.ID, "err", err)
		default:
			dl.LastError, dl.NextAttempt = err.Error(), now.Add(backoff(p, dl.Attempts))
			s.log.Warn("notification not delivered; will retry", "target", d.Name, "key", j.ev.ID, "attempts", dl.Attempts, "retry_at", dl.NextAttempt, "err", err)
			later(dl.NextAttempt)
		}
		a.Outcome = dl.Outcome
		s.observe(a)
		if err := s.store.Update(context.WithoutCancel(ctx), s.record(j.ev.Seq, d.Name, dl, j.routed)); err != nil {
			return next, fmt.Errorf("recording the delivery of %s to %s: %w", j.ev.ID, d.Name, err)
		}
		if dl.Outcome == "" {
			return next, nil
		}
	}
	return next, nil
}

// record stores a delivery and deletes the event when every routed destination is done.
func (s *Sender) record(seq uint64, target string, dl store.Delivery, routed []string) func(*store.Tx) error {
	return func(tx *store.Tx) error {
		if err := tx.PutDelivery(seq, target, dl); err != nil {
			return err
		}
		ds, err := tx.Deliveries(seq)
		if err != nil {
			return err
		}
		for _, name := range routed {
			if ds[name].Outcome == "" {
				return nil
			}
		}
		return tx.FinishEvent(seq)
	}
}

// backoff is the wait after the attempts-th failure: RetryInitial doubled per
// further failure, at most RetryMax.
func backoff(p Policy, attempts int) time.Duration {
	d := p.RetryInitial
	for i := 1; i < attempts && d < p.RetryMax; i++ {
		d *= 2
	}
	return min(d, p.RetryMax)
}
