// Package notify tells people what changed: it turns the store's outbox events into
// notifications, filters them per target (minimum severity, rate limit), delivers them
// to webhooks, Slack-compatible webhooks, desktop notifications and commands, and
// retries with backoff until each is delivered or expires.
package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/redact"
	"github.com/clankerd/clankerd/internal/store"
)

// Target delivers one notification to one place. Send returns a *PermanentError (see
// Permanent) when retrying cannot help.
type Target interface {
	Send(ctx context.Context, n Notification) error
}

// Notification is what a target receives: one event (the news of one run, or one
// pending plan), with the findings below the target's minimum severity left out.
type Notification struct {
	// Key is the idempotency key: the same on every retry and for every target.
	Key      string                `json:"idempotency_key"`
	Kind     store.EventKind       `json:"kind"`
	Created  time.Time             `json:"created"`
	Item     string                `json:"item,omitempty"`
	Check    string                `json:"check,omitempty"`
	Pos      string                `json:"pos,omitempty"`
	Status   checks.Status         `json:"status,omitempty"`
	Erroring string                `json:"erroring,omitempty"`
	Error    string                `json:"error,omitempty"`
	Findings []store.FindingNotice `json:"findings"`
	Plan     *store.PlanNotice     `json:"plan,omitempty"`
	// Commands are the clankerd commands to look closer (or to approve a plan).
	Commands []string `json:"commands"`
}

// erroringSeverity is the severity a check that starts or stops erroring counts as
// for minimum-severity filters: a check that silently cannot run is serious news.
const erroringSeverity = checks.High

// planSeverity maps a plan's risk to a severity for minimum-severity filters.
func planSeverity(r checks.Risk) checks.Severity {
	switch r {
	case checks.RiskLow:
		return checks.Low
	case checks.RiskMedium:
		return checks.Medium
	}
	return checks.High
}

// Build turns an event into the notification a target with the minimum severity gets;
// ok is false when nothing in the event reaches it. The zero minimum lets everything
// through.
func Build(ev store.OutboxEvent, min checks.Severity) (n Notification, ok bool) {
	n = Notification{
		Key: ev.ID, Kind: ev.Kind, Created: ev.Created, Item: ev.Item, Check: ev.Check, Pos: ev.Pos,
		Status: ev.Status, Findings: []store.FindingNotice{},
	}
	reaches := func(s checks.Severity) bool { return s.Rank() >= min.Rank() }
	// Notifications leave the machine: every text in them is redacted.
	if ev.Erroring != "" && reaches(erroringSeverity) {
		n.Erroring, n.Error = ev.Erroring, redact.String(ev.Error)
	}
	for _, f := range ev.Findings {
		if reaches(f.Severity) {
			f.Resource, f.Summary = redact.String(f.Resource), redact.String(f.Summary)
			n.Findings = append(n.Findings, f)
		}
	}
	if ev.Plan != nil && reaches(planSeverity(ev.Plan.Risk)) {
		p := *ev.Plan
		p.Target, p.Change = redact.String(p.Target), redact.String(p.Change)
		n.Plan = &p
	}
	if n.Erroring == "" && len(n.Findings) == 0 && n.Plan == nil && ev.Kind != store.EventTest {
		return Notification{}, false
	}
	n.Commands = commands(n)
	return n, true
}

// commands are the clankerd commands that look closer at what a notification says.
func commands(n Notification) []string {
	var out []string
	if n.Plan != nil {
		out = append(out, "clankerd plan show "+n.Plan.ID, "clankerd approve "+n.Plan.ID)
	}
	if n.Item != "" && n.Kind == store.EventRun {
		if len(n.Findings) > 0 {
			out = append(out, "clankerd findings --check "+n.Item)
		}
		if n.Erroring != "" {
			out = append(out, "clankerd runs --check "+n.Item)
		}
	}
	if len(out) == 0 {
		out = []string{"clankerd status"}
	}
	return out
}

// Headline sums a notification up in one line.
func Headline(n Notification) string {
	what := n.Check
	if n.Pos != "" {
		what += " (" + n.Pos + ")"
	}
	switch {
	case n.Kind == store.EventTest:
		return "clankerd test notification: delivery works"
	case n.Plan != nil:
		return fmt.Sprintf("plan %s waits for approval: %s on %s (risk %s)", n.Plan.ID, n.Plan.Change, n.Plan.Target, n.Plan.Risk)
	case n.Erroring == store.ErroringStarted && len(n.Findings) == 0:
		return what + " cannot run: it started erroring"
	case n.Erroring == store.ErroringStopped && len(n.Findings) == 0:
		return what + " runs again: it stopped erroring"
	}
	counts := map[store.Change]int{}
	for _, f := range n.Findings {
		counts[f.Change]++
	}
	var parts []string
	for _, c := range []store.Change{store.ChangeNew, store.ChangeWorse, store.ChangeUnmuted, store.ChangeResolved} {
		if counts[c] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[c], c))
		}
	}
	line := what + ": " + strings.Join(parts, ", ")
	if n.Erroring == store.ErroringStopped {
		line += "; it stopped erroring"
	}
	return line
}

// Sample is the notification `clankerd notify test` sends.
func Sample(key string, now time.Time) Notification {
	n, _ := Build(store.OutboxEvent{ID: key, Kind: store.EventTest, Created: now}, "")
	return n
}

// PermanentError is a delivery failure that retrying cannot fix (the receiver refused
// the request, the desktop tool is missing): the sender gives up on that target.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return &PermanentError{Err: err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
