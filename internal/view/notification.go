package view

import (
	"fmt"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
)

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
	Error    string                `json:"error,omitempty" view:"multiline"`
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

// NewNotification turns an event into the notification a target with the minimum severity gets;
// ok is false when nothing in the event reaches it. The zero minimum lets everything
// through.
func NewNotification(ev store.OutboxEvent, min checks.Severity) (n Notification, ok bool) {
	n = Notification{
		Key: ev.ID, Kind: ev.Kind, Created: ev.Created, Item: ev.Item, Check: ev.Check, Pos: ev.Pos,
		Status: ev.Status, Findings: []store.FindingNotice{},
	}
	reaches := func(s checks.Severity) bool { return s.Rank() >= min.Rank() }
	if ev.Erroring != "" && reaches(erroringSeverity) {
		n.Erroring, n.Error = ev.Erroring, ev.Error
	}
	for _, f := range ev.Findings {
		if reaches(f.Severity) {
			n.Findings = append(n.Findings, f)
		}
	}
	if ev.Plan != nil && reaches(planSeverity(ev.Plan.Risk)) {
		n.Plan = ev.Plan
	}
	if n.Erroring == "" && len(n.Findings) == 0 && n.Plan == nil && ev.Kind != store.EventTest {
		return Notification{}, false
	}
	n.Commands = commands(n)
	// Notifications leave the machine: every text in them is cleaned.
	scrub(&n)
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
	n, _ := NewNotification(store.OutboxEvent{ID: key, Kind: store.EventTest, Created: now}, "")
	return n
}

// SlackText renders a notification as Slack mrkdwn: a headline, one line per finding
// with severity, resource and summary, and the clankerd commands to look closer.
func SlackText(n Notification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*clankerd*: %s\n", Headline(n))
	if n.Erroring == store.ErroringStarted && n.Error != "" {
		fmt.Fprintf(&b, "> error: %s\n", OneLine(n.Error, 300))
	}
	for _, f := range n.Findings {
		fmt.Fprintf(&b, "• %s\n", findingLine(f))
	}
	if p := n.Plan; p != nil {
		fmt.Fprintf(&b, "• task %s, expires %s\n", p.Task, p.ExpiresAt.Format("2006-01-02 15:04 MST"))
	}
	for _, c := range n.Commands {
		fmt.Fprintf(&b, "`%s`\n", c)
	}
	return strings.TrimRight(b.String(), "\n")
}

// PlainText renders a notification for desktop notifications: no markup.
func PlainText(n Notification) string {
	var lines []string
	if n.Erroring == store.ErroringStarted && n.Error != "" {
		lines = append(lines, "error: "+OneLine(n.Error, 200))
	}
	for _, f := range n.Findings {
		lines = append(lines, findingLine(f))
	}
	lines = append(lines, n.Commands...)
	return strings.Join(lines, "\n")
}

func findingLine(f store.FindingNotice) string {
	sev := strings.ToUpper(string(f.Severity))
	switch f.Change {
	case store.ChangeWorse:
		sev = fmt.Sprintf("%s (was %s)", sev, strings.ToUpper(string(f.PrevSeverity)))
	case store.ChangeResolved:
		sev = "RESOLVED " + sev
	}
	return fmt.Sprintf("[%s] %s %s: %s", sev, f.Change, f.Resource, OneLine(f.Summary, 300))
}
