// Package heartbeat reads HEARTBEAT.md files: markdown checklists whose headings carry
// schedules and whose list items are checks, write tasks or plain-language questions.
package heartbeat

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clankerd/clankerd/checks"
)

// Catalog is what the parser needs to know about checks and tasks: their specs, close
// matches for unknown ids, and which front-matter keys parameters take defaults from.
// *checks.Registry implements it.
type Catalog interface {
	Lookup(id string) (checks.Spec, checks.Kind, bool)
	Suggest(id string) []string
	FrontMatterKeys() []string
}

// File is one parsed heartbeat file.
type File struct {
	// Path is the path as given (for messages); AbsPath is absolute (for identity).
	Path    string
	AbsPath string
	Title   string
	// Location is the front matter's timezone, or time.Local.
	Location *time.Location
	// ActiveHours limits scheduled runs; nil means always active.
	ActiveHours *ActiveHours
	// Jitter spreads each item's runs by a stable per-item offset in [0, Jitter).
	Jitter time.Duration
	// Defaults holds front-matter values for parameters, keyed by front-matter key
	// (kube_context, timeout, ...).
	Defaults map[string]string
	// Notify is the front matter's notify: value (notification targets for this
	// file's items), decoded and validated by package notify; its lines are file lines.
	// Nil when the file has none.
	Notify *yaml.Node
	Items  []Item
	// Notices are not errors: natural-language items that no router resolved yet.
	Notices []Diagnostic
	// Digest is the sha256 of the file's bytes, for the audit log.
	Digest string
}

// ItemKind says what a list item is.
type ItemKind int

// Item kinds.
const (
	// ItemCheck runs a read-only check.
	ItemCheck ItemKind = iota + 1
	// ItemTask queues a pending plan for a write task when it fires; it never applies.
	ItemTask
	// ItemQuestion is plain language that a router must map to checks.
	ItemQuestion
)

func (k ItemKind) String() string {
	switch k {
	case ItemCheck:
		return "check"
	case ItemTask:
		return "task"
	case ItemQuestion:
		return "question"
	}
	return "unknown"
}

// Item is one list item of a heartbeat file.
type Item struct {
	// Key is the stable identity: a hash of the absolute file path, the check id and
	// Params.Identity() (for questions: the normalized text). Moving the line keeps it;
	// changing what is checked makes a new item.
	Key  string
	File string
	Line int
	Kind ItemKind
	// ID is the check or task id; "" for questions.
	ID     string
	Params checks.Params
	// Fix is the write task a check item's fix= names: each new finding queues a plan
	// of it. Empty when the item has none.
	Fix string
	// Text is the item as written, without list marker or checkbox.
	Text string
	// Routed is set on a check item that a router made from a plain-language item.
	Routed bool
	// Trust says whose words the item is: Operator for items written in a heartbeat
	// file or named at the operator's terminal, Agent for items an MCP client or a
	// model chose, whose runs are held to the operator's agent policy.
	Trust Trust
	// Section is the text of the nearest heading above the item.
	Section     string
	Schedule    Schedule
	ActiveHours *ActiveHours
	Jitter      time.Duration
}

// Trust is whose words an item is.
type Trust int

// Trust levels. The zero value is the operator's: items parsed from a heartbeat file.
const (
	// Operator: written in a heartbeat file, or named or asked (and routed by the
	// rules) at the operator's terminal. Its runs reach whatever it names.
	Operator Trust = iota
	// Agent: named by an MCP client, or chosen by a model (even at the terminal: a
	// model's output is an agent's words). Its runs are admitted by the operator's
	// checks.AgentPolicy.
	Agent
)

func (t Trust) String() string {
	if t == Agent {
		return "agent"
	}
	return "operator"
}

// Pos is "FILE:LINE", or the origin alone for an item no file holds.
func (it Item) Pos() string {
	if it.Line == 0 {
		return it.File // a question's, an agent's or a scan's item: no file line
	}
	return fmt.Sprintf("%s:%d", it.File, it.Line)
}

// Schedule says when an item fires.
type Schedule struct {
	// Text is the schedule as written in the heading or front matter.
	Text string
	// Spec is the robfig/cron spec it became, with CRON_TZ when a time zone applies:
	// "CRON_TZ=Europe/Berlin 30 8 * * 1-5", "@every 7m".
	Spec string
	next func(time.Time) time.Time
}

// Next returns the first time after t that the schedule fires.
func (s Schedule) Next(t time.Time) time.Time {
	if s.next == nil {
		return time.Time{}
	}
	return s.next(t)
}

// ActiveHours is a daily window of wall-clock time in the file's time zone. When End
// is before Start the window spans midnight ("20:00-06:00").
type ActiveHours struct {
	// Start and End are minutes after midnight; End is exclusive.
	Start, End int
	Location   *time.Location
}

// Contains reports whether t falls inside the window.
func (a *ActiveHours) Contains(t time.Time) bool {
	if a == nil {
		return true
	}
	lt := t.In(a.Location)
	m := lt.Hour()*60 + lt.Minute()
	if a.Start <= a.End {
		return m >= a.Start && m < a.End
	}
	return m >= a.Start || m < a.End
}

func (a *ActiveHours) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", a.Start/60, a.Start%60, a.End/60, a.End%60)
}

// Diagnostic is a problem (or notice) at a place in a heartbeat file.
type Diagnostic struct {
	File string
	Line int
	Msg  string
	// Unrouted marks the parser's notice that a plain-language item is not routed
	// yet; a router that routes the file replaces these with its own.
	Unrouted bool
}

func (d Diagnostic) Error() string {
	if d.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", d.File, d.Line, d.Msg)
	}
	return fmt.Sprintf("%s: %s", d.File, d.Msg)
}

// Errors is every problem found in one or more files, in file and line order.
type Errors []Diagnostic

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, d := range e {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}
