package view

import (
	"fmt"
	"io"
	"time"

	"github.com/clankerd/clankerd/internal/approvals"
)

// PolicyRule is a rule of the operator's approvals policy as outputs name it: which
// plans it approves, until when, and why.
type PolicyRule struct {
	Name    string    `json:"name"`
	Pos     string    `json:"pos"` // FILE:LINE
	Task    string    `json:"task"`
	Target  string    `json:"target"`
	Expires time.Time `json:"expires"`
	Expired bool      `json:"expired"`
	Reason  string    `json:"reason"`
}

// NewPolicyRule shapes rule r of the policy file, as it stands at now.
func NewPolicyRule(file string, r approvals.Rule, now time.Time) PolicyRule {
	v := PolicyRule{Name: r.Name, Pos: fmt.Sprintf("%s:%d", file, r.Line), Task: r.Task, Target: r.Target,
		Expires: r.Expires, Expired: !now.Before(r.Expires), Reason: r.Reason}
	scrub(&v)
	return v
}

// WriteText writes the rule on one line.
func (r PolicyRule) WriteText(w io.Writer) {
	state := "active"
	if r.Expired {
		state = "EXPIRED"
	}
	fmt.Fprintf(w, "rule %q (%s): %s %s, %s until %s: %s\n", r.Name, r.Pos, r.Task, r.Target, state, When(r.Expires), r.Reason)
}
