package app

import (
	"context"
	"fmt"
	"time"

	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/approvals"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/tasks"
)

// PolicyApprover approves the fix= plans a rule of the operator's approvals policy
// matches, through the one approve operation (control.OpApprove with the rule named),
// on behalf of User: the daemon's --approve-by-policy.
type PolicyApprover struct {
	Policy approvals.Policy
	State  control.Backend
	// User is the user the daemon runs as, audited as policy:RULE (by User).
	User string
	Now  func() time.Time
}

var _ runner.FixApprover = (*PolicyApprover)(nil)

// ApproveFix approves p, as it was queued, when a rule matches it; it returns
// approvals.ErrNoRule (a *approvals.NoMatchError) when none does. Only fix plans are
// offered: any other plan is refused.
func (a *PolicyApprover) ApproveFix(ctx context.Context, p tasks.PlanRecord) (tasks.PlanRecord, error) {
	if !heartbeat.IsFixKey(p.Item) {
		return p, fmt.Errorf("plan %s is no fix= plan: the daemon's policy approves only fix plans", p.ID)
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	rule, err := a.Policy.Match(p.Plan, now())
	if err != nil {
		return p, err
	}
	return control.OpApprove.Do(ctx, a.State, control.Decision{ID: p.ID, Actor: a.User, Digest: p.Digest, Policy: rule.Name})
}
