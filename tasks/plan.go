package tasks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// PlanState is where a plan is in its state machine:
// pending → approved → applying → applied | failed | stale;
// pending → rejected | expired.
type PlanState string

// Plan states.
const (
	PlanPending  PlanState = "pending"
	PlanApproved PlanState = "approved"
	PlanApplying PlanState = "applying"
	PlanApplied  PlanState = "applied"
	PlanFailed   PlanState = "failed"
	PlanRejected PlanState = "rejected"
	PlanExpired  PlanState = "expired"
	// PlanStale: approve re-read live state and it had drifted from the plan.
	PlanStale PlanState = "stale"
)

// PlanStates lists every state, in the order of the state machine.
var PlanStates = []PlanState{PlanPending, PlanApproved, PlanApplying, PlanApplied, PlanFailed, PlanRejected, PlanExpired, PlanStale}

// PlanRecord is a plan as it is stored: the task's plan with its identity, origin and
// place in the state machine.
type PlanRecord struct {
	ID string `json:"id"`
	// Item is the key of the heartbeat task item that queued it; "" when it came from
	// the command line or an agent.
	Item string `json:"item,omitempty"`
	// Source says where it came from: "FILE:LINE", "cli", "mcp", "fix:FINGERPRINT".
	Source string `json:"source"`
	checks.Plan
	State     PlanState `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// DecidedBy is who approved or rejected it; Reason why it was rejected.
	DecidedBy string          `json:"decided_by,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Result    *checks.Applied `json:"result,omitempty"`
	Error     string          `json:"error,omitempty"`
	// Digest hashes the task, params, target, observed state and change: an approval
	// is for exactly this change.
	Digest string `json:"digest"`
}

// EffectiveState is State, except that a pending plan past its expiry is expired:
// expiry follows from the timestamp and is not waited for to be written.
func (p PlanRecord) EffectiveState(now time.Time) PlanState {
	if p.State == PlanPending && !now.Before(p.ExpiresAt) {
		return PlanExpired
	}
	return p.State
}

// PlanFilter selects plans. Zero fields do not filter.
type PlanFilter struct {
	// States are matched against each plan's EffectiveState.
	States []PlanState `json:"states,omitempty"`
	Task   string      `json:"task,omitempty"`
}

// Matches reports whether the filter keeps p at now.
func (f PlanFilter) Matches(p PlanRecord, now time.Time) bool {
	if f.Task != "" && p.Task != f.Task {
		return false
	}
	if len(f.States) == 0 {
		return true
	}
	state := p.EffectiveState(now)
	for _, s := range f.States {
		if s == state {
			return true
		}
	}
	return false
}

// PlanDigest hashes what a plan changes and what it saw: task, parameters, target,
// observed state and change. An approval is for exactly this digest.
func PlanDigest(p checks.Plan) string {
	data, _ := json.Marshal(struct {
		Task     string            `json:"task"`
		Identity string            `json:"identity"`
		Params   map[string]string `json:"params"`
		Target   string            `json:"target"`
		Observed map[string]string `json:"observed"`
		Change   string            `json:"change"`
	}{p.Task, p.Params.Identity(), p.Params.Values(), p.Target, p.Observed, p.Change})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
