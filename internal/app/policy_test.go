package app_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/approvals"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/testenv/filetask"
	"github.com/clankerd/clankerd/internal/testenv/plantest"
	"github.com/clankerd/clankerd/tasks"
)

// TestPolicyApproverApprovesOnlyMatchingFixPlans: the daemon's policy approves a fix
// plan a rule matches, audited with the rule; a fix plan no rule matches and a plan
// that is no fix plan stay pending.
func TestPolicyApproverApprovesOnlyMatchingFixPlans(t *testing.T) {
	m := plantest.New(t, plantest.RegistrarFunc(func(r *checks.Registry) error { return r.AddTask(filetask.SetContent{}) }), time.Hour)
	dir := t.TempDir()
	queue := func(content, item string) tasks.PlanRecord {
		target := filepath.Join(dir, content)
		if err := writeV1(target); err != nil {
			t.Fatal(err)
		}
		it := m.Item(t, "test.file.set", map[string]string{"path": target, "content": content}, "")
		d, err := m.Draft(t, it)
		if err != nil {
			t.Fatal(err)
		}
		d.Item = item
		q, err := control.OpQueuePlan.Do(t.Context(), m.Local, control.QueueRequest{Draft: d, Actor: "scheduler"})
		if err != nil {
			t.Fatal(err)
		}
		return q.Plan
	}
	fixKey := func(fp string) string { return heartbeat.Item{Key: "check"}.FixKey(fp) }
	pol, err := approvals.Parse("approvals.yaml", []byte("rules:\n  - name: fix-files\n    task: test.file.set\n    target: \"file/"+dir+"/*\"\n    params:\n      content: {values: [good]}\n    max_risk: low\n    expires: 2099-01-01\n    reason: test\n"), m.Reg)
	if err != nil {
		t.Fatal(err)
	}
	a := &app.PolicyApprover{Policy: pol, State: m.Local, User: "alice"}

	good := queue("good", fixKey("f1"))
	got, err := a.ApproveFix(t.Context(), good)
	if err != nil || got.State != tasks.PlanApplied || got.DecidedBy != "policy:fix-files (by alice)" {
		t.Errorf("matching fix plan: %+v, %v", got, err)
	}
	if actions := m.Audit(t, good.ID); strings.Join(actions, " ") != "plan.created plan.approved plan.applying plan.applied" {
		t.Errorf("audit of the approval by policy: %v", actions)
	}
	bad := queue("bad", fixKey("f2"))
	if got, err := a.ApproveFix(t.Context(), bad); !errors.Is(err, approvals.ErrNoRule) || got.State != tasks.PlanPending {
		t.Errorf("fix plan no rule matches: %+v, %v", got, err)
	}
	notFix := queue("good2", "")
	if got, err := a.ApproveFix(t.Context(), notFix); err == nil || !strings.Contains(err.Error(), "no fix= plan") || got.State != tasks.PlanPending {
		t.Errorf("a plan that is no fix plan: %+v, %v", got, err)
	}
}

func writeV1(path string) error { return os.WriteFile(path, []byte("v1"), 0o600) }
