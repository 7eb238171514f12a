package view

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/control"
)

// Status is what `clankerd status` shows: the daemon, every item's last and next run,
// open findings, pending plans and notification delivery.
type Status struct {
	Daemon       *Daemon        `json:"daemon,omitempty"`
	Database     string         `json:"database"`
	Items        []ItemStatus   `json:"items"`
	OpenFindings map[string]int `json:"open_findings"`
	PendingPlans int            `json:"pending_plans"`
	OutboxDepth  int            `json:"outbox_depth"`
	Targets      []Delivery     `json:"notify_targets,omitempty"`
}

// Daemon describes the running daemon.
type Daemon struct {
	PID        int       `json:"pid"`
	Version    string    `json:"version"`
	Started    time.Time `json:"started"`
	Heartbeats []string  `json:"heartbeats"`
	Items      int       `json:"items"`
	LastLoad   time.Time `json:"last_load"`
	// LoadErrors are the problems of the last reload; the last good items keep running.
	LoadErrors []string             `json:"load_errors,omitempty"`
	Targets    []control.TargetInfo `json:"notify_targets,omitempty"`
	Model      *control.ModelInfo   `json:"model,omitempty"`
}

// ItemStatus is an item's last run and, in the daemon, its next.
type ItemStatus struct {
	Item          string        `json:"item"`
	Check         string        `json:"check"`
	Pos           string        `json:"pos"`
	LastRun       uint64        `json:"last_run"`
	LastCompleted uint64        `json:"last_completed"`
	LastStatus    checks.Status `json:"last_status"`
	LastError     string        `json:"last_error,omitempty"`
	LastScheduled time.Time     `json:"last_scheduled,omitzero"`
	LastStarted   time.Time     `json:"last_started,omitzero"`
	LastEnded     time.Time     `json:"last_ended,omitzero"`
	OpenFindings  int           `json:"open_findings"`
	Next          time.Time     `json:"next,omitzero"`
	Running       bool          `json:"running,omitempty"`
}

// Delivery sums up what was delivered to one notification target.
type Delivery struct {
	Name          string    `json:"name"`
	Delivered     int       `json:"delivered"`
	Failed        int       `json:"failed"`
	LastDelivered time.Time `json:"last_delivered,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
}

// NewStatus shapes the state's summary.
func NewStatus(st control.Status) Status {
	out := Status{Database: clean(st.Database), Items: []ItemStatus{}, OpenFindings: st.OpenFindings, PendingPlans: st.PendingPlans, OutboxDepth: st.OutboxDepth}
	if d := st.Daemon; d != nil {
		out.Daemon = &Daemon{PID: d.PID, Version: d.Version, Started: d.Started, Heartbeats: cleanAll(d.Heartbeats), Items: d.Items,
			LastLoad: d.LastLoad, LoadErrors: cleanAll(d.LoadErrors), Model: d.Model}
		for _, t := range d.Targets {
			t.Where, t.Source = clean(t.Where), clean(t.Source)
			out.Daemon.Targets = append(out.Daemon.Targets, t)
		}
	}
	for _, it := range st.Items {
		out.Items = append(out.Items, ItemStatus{
			Item: it.Item, Check: it.Check, Pos: clean(it.Pos), LastRun: it.LastRun, LastCompleted: it.LastCompleted,
			LastStatus: it.LastStatus, LastError: clean(it.LastError), LastScheduled: it.LastScheduled, LastStarted: it.LastStarted,
			LastEnded: it.LastEnded, OpenFindings: it.OpenFindings, Next: it.Next, Running: it.Running,
		})
	}
	for _, t := range st.Targets {
		out.Targets = append(out.Targets, Delivery{Name: t.Name, Delivered: t.Delivered, Failed: t.Failed, LastDelivered: t.LastDelivered,
			LastError: clean(t.LastError), LastErrorAt: t.LastErrorAt})
	}
	return out
}

// WriteText writes the status for a person; now is the time "up" is counted to.
func (st Status) WriteText(w io.Writer, now time.Time) error {
	if d := st.Daemon; d != nil {
		fmt.Fprintf(w, "daemon: running, pid %d, version %s, up %s, %d items from %v\n",
			d.PID, d.Version, now.Sub(d.Started).Round(time.Second), d.Items, d.Heartbeats)
		for _, e := range d.LoadErrors {
			fmt.Fprintf(w, "  reload error (last good version running): %s\n", e)
		}
		if m := d.Model; m != nil {
			limit := "no hourly limit"
			if m.PerHour > 0 {
				limit = fmt.Sprintf("limit %d, %d left", m.PerHour, m.Remaining)
			}
			fmt.Fprintf(w, "model: %s, %d calls this hour (%s), %d in all, %d skipped over budget\n", m.Model, m.ThisHour, limit, m.Calls, m.Skipped)
		}
	} else {
		fmt.Fprintln(w, "daemon: not running (start it with `clankerd run`)")
	}
	fmt.Fprintf(w, "database: %s\n", st.Database)
	fmt.Fprintf(w, "open findings: %d critical, %d high, %d medium, %d low, %d info\n",
		st.OpenFindings[string(checks.Critical)], st.OpenFindings[string(checks.High)], st.OpenFindings[string(checks.Medium)],
		st.OpenFindings[string(checks.Low)], st.OpenFindings[string(checks.Info)])
	fmt.Fprintf(w, "pending plans: %d\n", st.PendingPlans)
	st.writeDeliveries(w)
	if len(st.Items) == 0 {
		_, err := fmt.Fprintln(w, "no runs recorded yet")
		return err
	}
	t := newTable(w, "ITEM", "CHECK", "LAST STATUS", "LAST RUN", "NEXT RUN", "OPEN", "ERROR")
	for _, it := range st.Items {
		t.row(it.Pos, it.Check, string(it.LastStatus), When(it.LastStarted), When(it.Next), fmt.Sprint(it.OpenFindings), OneLine(it.LastError, 60))
	}
	return t.flush()
}

// writeDeliveries writes the outbox depth and each target's deliveries, the
// configured targets first.
func (st Status) writeDeliveries(w io.Writer) {
	fmt.Fprintf(w, "notifications: %d waiting in the outbox\n", st.OutboxDepth)
	var names []string
	if st.Daemon != nil {
		for _, t := range st.Daemon.Targets {
			names = append(names, t.Name)
		}
	}
	byName := map[string]Delivery{}
	for _, d := range st.Targets {
		byName[d.Name] = d
		if !slices.Contains(names, d.Name) {
			names = append(names, d.Name)
		}
	}
	for _, name := range names {
		d, tried := byName[name]
		line := fmt.Sprintf("  %s: ", name)
		switch {
		case !tried:
			line += "nothing sent yet"
		default:
			line += fmt.Sprintf("%d delivered (last %s), %d failed", d.Delivered, When(d.LastDelivered), d.Failed)
			if d.LastError != "" {
				line += fmt.Sprintf("; last error %s: %s", When(d.LastErrorAt), OneLine(d.LastError, 120))
			}
		}
		fmt.Fprintln(w, line)
	}
}
