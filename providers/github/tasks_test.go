package github

import (
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/testenv/ghtest"
	"github.com/clankerd/clankerd/internal/testenv/plantest"
	"github.com/clankerd/clankerd/tasks"
)

// withAPI adds the stand-in's API URL to task parameters.
func withAPI(s *ghtest.Server, raw map[string]string) map[string]string {
	raw["api_url"] = s.URL
	return raw
}

func TestRerunPlanApproveAndRefuseWhenAlreadyRerun(t *testing.T) {
	s, p, _ := standin(t, Options{}, acme()...)
	m := plantest.New(t, p, time.Hour)
	it := m.Item(t, "github.workflow.rerun", withAPI(s, map[string]string{"repo": "acme/api", "run": "1001"}), "")
	plan := m.Queue(t, it)
	if plan.Target != "run/acme/api/1001" || plan.Observed["attempt"] != "1" || plan.Observed["conclusion"] != "failure" ||
		!strings.Contains(plan.Change, "re-run the failed jobs (test) of ci run #7 (attempt 1, failure, aaaa111) as attempt 2") || plan.Risk != checks.RiskLow {
		t.Fatalf("plan = %+v", plan)
	}
	if !strings.Contains(plan.Utilization, "last runs on main: #7 ") || !strings.Contains(plan.Utilization, "#6 ") {
		t.Errorf("last runs: %q", plan.Utilization)
	}
	if s.Stats().Reruns != 0 {
		t.Fatal("queueing re-ran the run")
	}
	if _, err := m.Approve(t.Context(), plan.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Reruns != 1 {
		t.Errorf("reruns after approve = %d", s.Stats().Reruns)
	}
	if got := strings.Join(m.Audit(t, plan.ID), ","); got != "plan.created,plan.approved,plan.applying,plan.applied" {
		t.Errorf("audit: %s", got)
	}

	// A plan for the same run, and then someone re-runs it from the web page: approve
	// refuses and re-runs nothing.
	s.Change(func(rs []*ghtest.Repo) {
		for _, r := range rs[0].Runs {
			if r.ID == 2001 {
				r.Status, r.Conclusion = "completed", "timed_out"
			}
		}
	})
	stale := m.Queue(t, m.Item(t, "github.workflow.rerun", withAPI(s, map[string]string{"repo": "acme/api", "run": "2001"}), ""))
	s.Change(func(rs []*ghtest.Repo) {
		for _, r := range rs[0].Runs {
			if r.ID == 2001 {
				r.Attempt, r.Status, r.Conclusion = 2, "in_progress", ""
			}
		}
	})
	m.ApproveStale(t, stale.ID, `attempt was "1" when planned, is "2" now`)
	if s.Stats().Reruns != 1 {
		t.Error("a stale plan re-ran the run")
	}

	// A run that succeeded has nothing to re-run: no plan.
	if _, err := m.Draft(t, m.Item(t, "github.workflow.rerun", withAPI(s, map[string]string{"repo": "acme/api", "run": "3002"}), "")); err == nil || !strings.Contains(err.Error(), "concluded success: it has no failed jobs") {
		t.Errorf("successful run: %v", err)
	}
}

func TestEnablePlanApproveAndRefuseWhenEnabledAgain(t *testing.T) {
	s, p, _ := standin(t, Options{}, acme()...)
	m := plantest.New(t, p, time.Hour)
	plan := m.Queue(t, m.Item(t, "github.workflow.enable", withAPI(s, map[string]string{"repo": "acme/api", "workflow": "backup.yml"}), ""))
	if plan.Target != "workflow/acme/api/backup.yml" || plan.Observed["state"] != "disabled_inactivity" ||
		plan.Change != "enable workflow backup (.github/workflows/backup.yml): state disabled_inactivity → active" ||
		!strings.Contains(strings.Join(plan.RiskReasons, ";"), "its schedule (30 1 * * 0) runs again") {
		t.Fatalf("plan = %+v", plan)
	}
	if plan.Utilization != "no runs on main" {
		t.Errorf("last runs: %q", plan.Utilization)
	}
	if _, err := m.Approve(t.Context(), plan.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Enables != 1 {
		t.Errorf("enables = %d", s.Stats().Enables)
	}

	// Someone enables old.yml by hand after the plan: stale.
	stale := m.Queue(t, m.Item(t, "github.workflow.enable", withAPI(s, map[string]string{"repo": "acme/api", "workflow": "old.yml"}), ""))
	s.Change(func(rs []*ghtest.Repo) { rs[0].Workflows[4].State = "active" })
	m.ApproveStale(t, stale.ID, `state was "disabled_manually" when planned, is "active" now`)
	if s.Stats().Enables != 1 {
		t.Error("a stale plan enabled the workflow")
	}
	// An active workflow: nothing to change.
	if _, err := m.Draft(t, m.Item(t, "github.workflow.enable", withAPI(s, map[string]string{"repo": "acme/api", "workflow": "ci.yml"}), "")); err == nil || !strings.Contains(err.Error(), "already enabled") {
		t.Errorf("active workflow: %v", err)
	}
}

func TestFixQueuesPlansForFindings(t *testing.T) {
	s, p, _ := standin(t, Options{}, acme()...)
	m := plantest.New(t, p, time.Hour)
	o := m.Runner.RunItem(t.Context(), m.Item(t, "github.actions.disabled", withAPI(s, map[string]string{"repos": "acme/api"}), "github.workflow.enable"), runnerTrigger())
	if o.Err != nil || o.Receipt.Status != checks.Fail {
		t.Fatalf("check: %+v %v", o.Receipt, o.Err)
	}
	plans, err := m.Plans(t.Context(), tasks.PlanFilter{States: []tasks.PlanState{tasks.PlanPending}})
	if err != nil || len(plans) != 1 || plans[0].Task != "github.workflow.enable" || plans[0].Target != "workflow/acme/api/backup.yml" {
		t.Fatalf("plans after fix= = %+v, %v", plans, err)
	}
}

func runnerTrigger() runner.Trigger { return runner.Trigger{Kind: store.TriggerSchedule} }
