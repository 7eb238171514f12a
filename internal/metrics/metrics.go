// Package metrics serves clankerd's state as Prometheus metrics: runs and their
// durations as they are recorded, and open findings, pending plans, the notification
// outbox, each item's last successful run and the GitHub rate limit left read from the
// store at every scrape.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/httpx"
	"github.com/clankerd/clankerd/internal/notify"
	"github.com/clankerd/clankerd/internal/ratelimit"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// State is what the scrape-time metrics read; *store.DB implements it.
type State interface {
	View(ctx context.Context, fn func(*store.Tx) error) error
}

// Metrics holds clankerd's metrics in a registry of its own.
type Metrics struct {
	registry        *prometheus.Registry
	runs            *prometheus.CounterVec
	runDuration     *prometheus.HistogramVec
	notifications   *prometheus.CounterVec
	deliveryLatency *prometheus.HistogramVec
	runRecord       prometheus.Histogram
}

// New registers the metrics, the Go runtime's and the process's, and a collector that
// reads state at each scrape.
func New(state State, logger *slog.Logger) (*Metrics, error) {
	if state == nil {
		return nil, errors.New("metrics: State is required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clankerd_runs_total",
			Help: "Runs recorded, by check id and status (pass, fail, error, skipped).",
		}, []string{"check", "status"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clankerd_run_duration_seconds",
			Help:    "How long runs that executed took, by check id.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"check"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clankerd_notification_attempts_total",
			Help: "Delivery attempts, by target and result (delivered, retry, failed, expired).",
		}, []string{"target", "result"}),
		deliveryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clankerd_notification_delivery_seconds",
			Help:    "Time from queueing a notification to its delivery, by target.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 21600, 86400},
		}, []string{"target"}),
		runRecord: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "clankerd_run_record_seconds",
			Help:    "Time from asking the store to record a run's end until its transaction (receipt, findings, notifications) committed, waiting for the store included.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
	}
	for _, c := range []prometheus.Collector{
		m.runs, m.runDuration, m.notifications, m.deliveryLatency, m.runRecord,
		&stateCollector{state: state, log: logger},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := m.registry.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}

// ObserveRun counts a recorded receipt; runs that executed add their duration.
func (m *Metrics) ObserveRun(r store.Receipt) {
	check := r.Check
	if check == "" {
		check = "none"
	}
	m.runs.WithLabelValues(check, string(r.Status)).Inc()
	if r.Status != checks.Skipped && !r.Ended.IsZero() && !r.Started.IsZero() {
		m.runDuration.WithLabelValues(check).Observe(r.Ended.Sub(r.Started).Seconds())
	}
}

// ObserveRecord adds the time one run's end took to commit (EndRun's transaction).
func (m *Metrics) ObserveRecord(d time.Duration) {
	m.runRecord.Observe(d.Seconds())
}

// ObserveDelivery counts a notification delivery attempt.
func (m *Metrics) ObserveDelivery(a notify.Attempt) {
	result := a.Outcome
	if result == "" {
		result = "retry"
	}
	m.notifications.WithLabelValues(a.Target, result).Inc()
	if a.Outcome == store.Delivered {
		m.deliveryLatency.WithLabelValues(a.Target).Observe(a.Latency.Seconds())
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	return mux
}

// Serve serves the metrics on ln until ctx is done, then shuts the server down.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	if err := httpx.Serve(ctx, srv, ln, 5*time.Second); err != nil {
		return fmt.Errorf("metrics server: %w", err)
	}
	return nil
}

// stateCollector reads the store at each scrape.
type stateCollector struct {
	state State
	log   *slog.Logger
}

var (
	openFindingsDesc = prometheus.NewDesc("clankerd_open_findings",
		"Open findings (new, unchanged, changed), by severity and check id; muted ones included.", []string{"severity", "check"}, nil)
	mutedFindingsDesc = prometheus.NewDesc("clankerd_muted_findings",
		"Open findings that an active mute silences, by check id.", []string{"check"}, nil)
	pendingPlansDesc = prometheus.NewDesc("clankerd_pending_plans",
		"Plans waiting for approval.", nil, nil)
	outboxDepthDesc = prometheus.NewDesc("clankerd_notification_outbox_depth",
		"Notification events waiting for delivery.", nil, nil)
	lastSuccessDesc = prometheus.NewDesc("clankerd_last_successful_run_timestamp_seconds",
		"When each heartbeat item last completed a run (pass or fail), as a Unix time; alert when it is too old.", []string{"check", "item", "pos"}, nil)
	rateRemainingDesc = prometheus.NewDesc("clankerd_github_rate_limit_remaining",
		"GitHub API requests left in the current rate-limit window, by API host and token source, as the newest github.* run saw it.", []string{"host", "token"}, nil)
	rateLimitDesc = prometheus.NewDesc("clankerd_github_rate_limit",
		"GitHub API requests allowed per rate-limit window, by API host and token source.", []string{"host", "token"}, nil)
	rateResetDesc = prometheus.NewDesc("clankerd_github_rate_limit_reset_timestamp_seconds",
		"When the GitHub rate-limit window resets, as a Unix time, by API host and token source.", []string{"host", "token"}, nil)
	scrapeErrorDesc = prometheus.NewDesc("clankerd_state_scrape_error",
		"1 when reading the state for this scrape failed (see the daemon's log).", nil, nil)
)

// Describe sends the descriptors.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{openFindingsDesc, mutedFindingsDesc, pendingPlansDesc, outboxDepthDesc, lastSuccessDesc,
		rateRemainingDesc, rateLimitDesc, rateResetDesc, scrapeErrorDesc} {
		ch <- d
	}
}

// Collect reads the state in one read transaction.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	var out []prometheus.Metric
	err := c.state.View(context.Background(), func(tx *store.Tx) error {
		out = nil
		open, err := tx.Findings(store.FindingFilter{States: []store.FindingState{store.FindingNew, store.FindingUnchanged, store.FindingChanged}})
		if err != nil {
			return err
		}
		type key struct{ severity, check string }
		counts, muted := map[key]int{}, map[string]int{}
		for _, f := range open {
			counts[key{string(f.Severity), f.Check}]++
			if f.MutedBy != "" {
				muted[f.Check]++
			}
		}
		for k, n := range counts {
			out = append(out, prometheus.MustNewConstMetric(openFindingsDesc, prometheus.GaugeValue, float64(n), k.severity, k.check))
		}
		for check, n := range muted {
			out = append(out, prometheus.MustNewConstMetric(mutedFindingsDesc, prometheus.GaugeValue, float64(n), check))
		}
		pending, err := tx.Plans(tasks.PlanFilter{States: []tasks.PlanState{tasks.PlanPending}})
		if err != nil {
			return err
		}
		out = append(out,
			prometheus.MustNewConstMetric(pendingPlansDesc, prometheus.GaugeValue, float64(len(pending))),
			prometheus.MustNewConstMetric(outboxDepthDesc, prometheus.GaugeValue, float64(tx.OutboxDepth())))
		items, err := tx.ItemStates()
		if err != nil {
			return err
		}
		for _, it := range items {
			if it.LastCompleted == 0 {
				continue
			}
			r, err := tx.Receipt(it.LastCompleted)
			if errors.Is(err, store.ErrNotFound) {
				continue // pruned
			}
			if err != nil {
				return err
			}
			out = append(out, prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(r.Ended.UnixMilli())/1000, it.Check, it.Item, it.Pos))
		}
		limits, err := ratelimit.Latest(tx)
		if err != nil {
			return err
		}
		for _, rl := range limits {
			out = append(out,
				prometheus.MustNewConstMetric(rateRemainingDesc, prometheus.GaugeValue, float64(rl.Remaining), rl.Host, rl.Token),
				prometheus.MustNewConstMetric(rateLimitDesc, prometheus.GaugeValue, float64(rl.Limit), rl.Host, rl.Token),
				prometheus.MustNewConstMetric(rateResetDesc, prometheus.GaugeValue, float64(rl.Reset.Unix()), rl.Host, rl.Token))
		}
		return nil
	})
	failed := 0.0
	if err != nil {
		c.log.Error("reading the state for metrics failed", "err", err)
		failed, out = 1, nil
	}
	for _, m := range out {
		ch <- m
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrorDesc, prometheus.GaugeValue, failed)
}

// ModelCalls counts the model's calls and the calls the budget skipped, read from
// status at each scrape (the daemon's `--explain`).
func (m *Metrics) ModelCalls(status func() (calls, skipped int)) error {
	made := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "clankerd_model_calls_total",
		Help: "Calls made to the model (explanations), since the daemon started.",
	}, func() float64 { c, _ := status(); return float64(c) })
	skipped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "clankerd_model_calls_skipped_total",
		Help: "Model calls the budget refused; those findings were kept without explanation.",
	}, func() float64 { _, s := status(); return float64(s) })
	for _, c := range []prometheus.Collector{made, skipped} {
		if err := m.registry.Register(c); err != nil {
			return fmt.Errorf("registering model metrics: %w", err)
		}
	}
	return nil
}
