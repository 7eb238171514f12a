package control

import (
	"slices"
	"testing"

	"github.com/clankerd/clankerd/internal/testenv/kubetest"
)

// TestEveryServedOpHasAccess: each served operation is either in the team API's
// table or refused there on purpose, never both, and the tables name only served
// operations.
func TestEveryServedOpHasAccess(t *testing.T) {
	names := map[string]bool{}
	for _, op := range served {
		name := op.opName()
		names[name] = true
		_, mapped := apiAccess[name]
		_, refused := daemonOnly[name]
		if mapped == refused {
			t.Errorf("%s: in apiAccess %v, in daemonOnly %v: want exactly one", name, mapped, refused)
		}
	}
	for name := range apiAccess {
		if !names[name] {
			t.Errorf("apiAccess names %q, which is not served", name)
		}
	}
	for name := range daemonOnly {
		if !names[name] {
			t.Errorf("daemonOnly names %q, which is not served", name)
		}
	}
	if _, ok := accessFor("audit_append"); ok {
		t.Error("the team API would append audit records")
	}
}

// roleOps are the operations each ClusterRole of contrib/kubernetes lets its
// subjects perform through the team API (docs/team.md, "Who may do what").
var roleOps = map[string][]string{
	"clankerd-viewer": {"audit", "audit_verify", "baselines", "changes", "diff", "findings", "mutes", "plan", "plans", "runs", "status"},
	"clankerd-proposer": {"audit", "audit_verify", "baselines", "changes", "diff", "findings", "mutes", "plan", "plans", "queue_plan", "runs",
		"status"},
	"clankerd-approver": {"approve", "audit", "audit_verify", "baseline_accept", "baseline_reset", "baselines", "changes", "diff", "findings",
		"mute", "mutes", "plan", "plans", "reject", "runs", "status", "unmute"},
}

// TestClusterRolesFollowTheTable: each shipped ClusterRole grants exactly its
// operations, and nothing the table does not use.
func TestClusterRolesFollowTheTable(t *testing.T) {
	used := map[Access]bool{}
	for _, a := range apiAccess {
		used[a] = true
	}
	for role, want := range roleOps {
		t.Run(role, func(t *testing.T) {
			cr := kubetest.ContribClusterRole(t, role)
			granted := map[Access]bool{}
			for _, r := range cr.Rules {
				if !slices.Equal(r.APIGroups, []string{Group}) || len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
					t.Errorf("rule %+v: want only API group %s, no resource names or URLs", r, Group)
				}
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						a := Access{v, res}
						granted[a] = true
						if !used[a] && !(v == "get" || v == "list") {
							t.Errorf("grants %s, which no operation needs", a)
						}
					}
				}
			}
			var got []string
			for op, a := range apiAccess {
				if granted[a] {
					got = append(got, op)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("allows %q, want %q", got, want)
			}
		})
	}
}
