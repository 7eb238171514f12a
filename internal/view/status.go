package view

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/store"
)

// Status is what `clankerd status` shows: the daemon, every item's last and next run,
// open findings, pending plans and notification delivery, cleaned.
type Status struct{ control.Status }

// NewStatus shapes the state's summary.
func NewStatus(st control.Status) Status {
	v := Status{st}
	scrub(&v)
	return v
}

// WriteText writes the status for a person; now is the time "up" is counted to.
func (st Status) WriteText(w io.Writer, now time.Time) error {
	if d := st.Daemon; d != nil {
		fmt.Fprintf(w, "daemon: running, pid %d, version %s, up %s, %d items from %v\n",
			d.PID, d.Version, now.Sub(d.Started).Round(time.Second), d.Items, d.Heartbeats)
		for _, e := range d.LoadErrors {
			fmt.Fprintf(w, "  reload error (last good version running): %s\n", e)
		}
		if e := d.Election; e != nil {
			role, leader := "standby", e.Leader
			if e.Leading {
				role = "leader"
			}
			if leader == "" {
				leader = "unknown"
			}
			fmt.Fprintf(w, "replica: %s, %s (leader: %s)\n", e.Identity, role, leader)
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
	st.writeRateLimits(w, now)
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
	byName := map[string]store.TargetState{}
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

// writeRateLimits writes a line per GitHub API and token: the requests left of the
// limit, when it resets, and which run saw it how long ago. The token's source is
// named only when one host has several.
func (st Status) writeRateLimits(w io.Writer, now time.Time) {
	perHost := map[string]int{}
	for _, rl := range st.RateLimits {
		perHost[rl.Host]++
	}
	for _, rl := range st.RateLimits {
		name := rl.Host
		if perHost[rl.Host] > 1 && rl.Token != "" {
			name += " (token from " + rl.Token + ")"
		}
		fmt.Fprintf(w, "github %s: %s of %s requests left, resets %s (as of run %d, %s)\n",
			name, thousands(rl.Remaining), thousands(rl.Limit), rl.Reset.UTC().Format("15:04 MST"), rl.Run, ago(now.Sub(rl.At)))
	}
}

// thousands writes n with commas between groups of three digits: 4,321.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// ago is a duration in the past, rounded for a person: "just now", "2m ago", "3h ago".
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
	}
}
