package tasks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
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
	// Digest is the keyed digest (PlanDigest) of everything the plan says it will do
	// and saw, its identity and its expiry: an approval is for exactly this plan, and
	// a record edited outside clankerd no longer matches it.
	Digest string `json:"digest"`
}

// Draft is a plan as a caller proposes it: what the task read and would change, and
// where the request came from. The plan's identity, state, times and digest are not
// the caller's to give: Service.Queue assigns them.
type Draft struct {
	// Item is the key of the heartbeat task item that asks; "" from the command line
	// or an agent.
	Item string `json:"item,omitempty"`
	// Source says where it came from: "FILE:LINE", "cli", "mcp", "fix:FINGERPRINT".
	Source string `json:"source"`
	checks.Plan
	// Expiry is how long the plan waits for approval; DefaultExpiry when zero.
	Expiry time.Duration `json:"expiry,omitempty"`
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

// digestPrefix marks a keyed digest. A plan queued before plans were signed has a
// bare sha256 and is refused.
const digestPrefix = "hmac-sha256:"

// PlanDigest is the HMAC-SHA256, under key, of what the plan will do and what it
// saw (task, parameters, target, observed state, change, utilization, dependencies,
// risk and its reasons, cost, preconditions), where it came from, its id, and when it
// was made and expires. The encoding is JSON of a fixed struct, whose maps
// encoding/json writes in key order; fields added later are omitted when empty, so a
// plan signed before they existed keeps its digest.
func PlanDigest(key []byte, p PlanRecord) string {
	data, _ := json.Marshal(struct {
		ID            string              `json:"id"`
		Item          string              `json:"item"`
		Source        string              `json:"source"`
		Task          string              `json:"task"`
		Identity      string              `json:"identity"`
		Params        map[string]string   `json:"params"`
		Target        string              `json:"target"`
		Observed      map[string]string   `json:"observed"`
		Change        string              `json:"change"`
		Utilization   string              `json:"utilization,omitempty"`
		Dependencies  []checks.Dependency `json:"dependencies,omitempty"`
		Risk          checks.Risk         `json:"risk"`
		RiskReasons   []string            `json:"risk_reasons"`
		CostUSD       *float64            `json:"monthly_cost_change_usd"`
		CostNote      string              `json:"cost_note"`
		Preconditions []string            `json:"preconditions"`
		CreatedAt     string              `json:"created_at"`
		ExpiresAt     string              `json:"expires_at"`
	}{
		p.ID, p.Item, p.Source, p.Task, p.Params.Identity(), p.Params.Values(), p.Target, p.Observed, p.Change,
		p.Utilization, p.Dependencies, p.Risk, p.RiskReasons, p.MonthlyCostChangeUSD, p.CostNote, p.Preconditions,
		p.CreatedAt.UTC().Format(time.RFC3339Nano), p.ExpiresAt.UTC().Format(time.RFC3339Nano),
	})
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return digestPrefix + hex.EncodeToString(mac.Sum(nil))
}

// keyed reports whether digest is a keyed one, not the bare sha256 of a plan queued
// before plans were signed.
func keyed(digest string) bool { return strings.HasPrefix(digest, digestPrefix) }
