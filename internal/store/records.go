package store

import (
	"time"

	"github.com/clankerd/clankerd/checks"
)

// StatusRunning marks a receipt whose run has started and not ended. A receipt still
// running when the daemon starts was interrupted (crash, kill -9) and is closed as
// error by MarkInterrupted.
const StatusRunning checks.Status = "running"

// Trigger says why a run happened.
type Trigger string

// Triggers.
const (
	TriggerSchedule Trigger = "schedule"
	// TriggerCatchUp is one run standing for ticks missed while the daemon was down or
	// the machine slept (Receipt.Missed says how many).
	TriggerCatchUp Trigger = "catch-up"
	// TriggerManual is `clankerd check`.
	TriggerManual Trigger = "manual"
)

// Receipt records one run, or one tick that did not run (status skipped, with the
// reason in Error), so "did it actually run?" always has an answer.
type Receipt struct {
	Seq       uint64        `json:"seq"`
	Item      string        `json:"item"`
	Check     string        `json:"check"`
	Pos       string        `json:"pos"`
	Trigger   Trigger       `json:"trigger"`
	Scheduled time.Time     `json:"scheduled"`
	Started   time.Time     `json:"started"`
	Ended     time.Time     `json:"ended,omitzero"`
	Status    checks.Status `json:"status"`
	// Error is the error of an error run, or the reason of a skipped one.
	Error string `json:"error,omitempty"`
	// Missed counts scheduled ticks that this run stands for besides its own.
	Missed   int               `json:"missed,omitempty"`
	Evidence map[string]string `json:"evidence,omitempty"`
	Findings FindingCounts     `json:"findings"`
	// Plan is the id of the plan a task item queued (or found pending) in this run.
	Plan string `json:"plan,omitempty"`
}

// FindingCounts sums up what a run did to the findings of its item.
type FindingCounts struct {
	New       int `json:"new"`
	Unchanged int `json:"unchanged"`
	Changed   int `json:"changed"`
	Resolved  int `json:"resolved"`
}

// RunEnd is how a run ended.
type RunEnd struct {
	Ended    time.Time
	Status   checks.Status
	Error    string
	Evidence map[string]string
	Findings []checks.Finding
	// Inventory is a change-tracking check's facts: a run that completed compares them
	// with the item's baseline, and its findings are what is beyond it.
	Inventory *checks.Inventory `json:",omitempty"`
	Plan      string
}

// FindingState is where a finding is in its lifecycle.
type FindingState string

// Finding states. New, Unchanged and Changed are open.
const (
	FindingNew       FindingState = "new"
	FindingUnchanged FindingState = "unchanged"
	// FindingChanged: same fingerprint, different severity, summary or evidence.
	FindingChanged FindingState = "changed"
	// FindingResolved: not found again by a run that completed (pass or fail).
	FindingResolved FindingState = "resolved"
)

// Open reports whether the finding is still a problem.
func (s FindingState) Open() bool { return s != FindingResolved }

// FindingRecord is a finding with its history.
type FindingRecord struct {
	Fingerprint string `json:"fingerprint"`
	Item        string `json:"item"`
	Check       string `json:"check"`
	Pos         string `json:"pos"`
	checks.Finding
	State      FindingState `json:"state"`
	FirstSeen  time.Time    `json:"first_seen"`
	LastSeen   time.Time    `json:"last_seen"`
	ResolvedAt time.Time    `json:"resolved_at,omitzero"`
	// StateRun is the run that put the finding in its state; LastRun the last run
	// that saw it.
	StateRun uint64 `json:"state_run"`
	LastRun  uint64 `json:"last_run"`
	// MutedBy is the id of the active mute that silences the finding. It follows from
	// the mutes and the time, so it is filled in when findings are read, never stored.
	MutedBy string `json:"muted_by,omitempty"`
}

// Fails reports whether the finding makes its run a problem: open, more severe than
// info, and no mute silences it. `clankerd check`'s exit code and an answer's health
// follow it.
func (f FindingRecord) Fails() bool {
	return f.State.Open() && f.Severity.Rank() > checks.Info.Rank() && f.MutedBy == ""
}

// RunFinding is a finding as one run left it: its record (state, MutedBy filled in)
// and, when the run changed its description, the severity it had before.
type RunFinding struct {
	FindingRecord
	PrevSeverity checks.Severity `json:"previous_severity,omitempty"`
}

// Worse reports whether the run raised the finding's severity.
func (f RunFinding) Worse() bool {
	return f.State == FindingChanged && f.Severity.Rank() > f.PrevSeverity.Rank()
}

// RunResult is what ending a run recorded: the closed receipt and, for a run that
// completed (pass or fail), every finding it found, in the order the check returned
// them, followed by the ones it resolved.
type RunResult struct {
	Receipt  Receipt      `json:"receipt"`
	Findings []RunFinding `json:"findings"`
}

// Changed returns the findings the run made new, changed or resolved.
func (r RunResult) Changed() []RunFinding {
	var out []RunFinding
	for _, f := range r.Findings {
		if f.State != FindingUnchanged {
			out = append(out, f)
		}
	}
	return out
}

// ItemState is the latest about one heartbeat item.
type ItemState struct {
	Item  string `json:"item"`
	Check string `json:"check"`
	Pos   string `json:"pos"`
	// LastRun is the newest receipt; LastCompleted the newest run that ended pass or
	// fail (the one "new since the last check" compares with).
	LastRun       uint64        `json:"last_run"`
	LastCompleted uint64        `json:"last_completed"`
	LastStatus    checks.Status `json:"last_status"`
	LastError     string        `json:"last_error,omitempty"`
	LastScheduled time.Time     `json:"last_scheduled,omitzero"`
	LastStarted   time.Time     `json:"last_started,omitzero"`
	LastEnded     time.Time     `json:"last_ended,omitzero"`
	OpenFindings  int           `json:"open_findings"`
}

// AuditEntry is what happened, by whom, to what.
type AuditEntry struct {
	// Actor is the local user, "daemon", or "scheduler"; through the team API, the
	// authenticated Kubernetes user ("alice", "system:serviceaccount:NS:NAME").
	Actor string `json:"actor"`
	// Groups are the authenticated caller's groups, through the team API; empty
	// otherwise (and then absent from the record, so older records hash as before).
	Groups []string `json:"groups,omitempty"`
	// Action: "plan.created", "plan.approved", "plan.applied", "heartbeat.loaded", ...
	Action  string            `json:"action"`
	Subject string            `json:"subject"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// AuditRecord is an entry in the append-only audit log. Hash is the sha256 of Prev and
// the record's other fields, so changing or removing any record breaks the chain.
type AuditRecord struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	AuditEntry
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}
