package notify

import (
	"fmt"
	"strings"

	"github.com/clankerd/clankerd/internal/store"
)

// SlackText renders a notification as Slack mrkdwn: a headline, one line per finding
// with severity, resource and summary, and the clankerd commands to look closer.
func SlackText(n Notification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*clankerd*: %s\n", Headline(n))
	if n.Erroring == store.ErroringStarted && n.Error != "" {
		fmt.Fprintf(&b, "> error: %s\n", oneLine(n.Error, 300))
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
		lines = append(lines, "error: "+oneLine(n.Error, 200))
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
	return fmt.Sprintf("[%s] %s %s: %s", sev, f.Change, f.Resource, oneLine(f.Summary, 300))
}

// oneLine keeps a text on one line and bounded.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return s[:max-1] + "…"
	}
	return s
}
