package view

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/tasks"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// The layout a person reviews: PLAN, Resources affected, Current state, Estimated cost
// change, Risk: LEVEL — reasons, then expiry and the approve command.
func TestWritePlanLayout(t *testing.T) {
	local := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = local })
	created := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	cost := -36.5
	plan := tasks.PlanRecord{
		ID: "p-7f3a", Source: "cli", State: tasks.PlanPending, CreatedAt: created, ExpiresAt: created.Add(time.Hour),
		Plan: checks.Plan{
			Task:   "k8s.deployment.scale",
			Params: checks.NewParams(map[string]string{"deployment": "production/billing-worker", "replicas": "2"}),
			Target: "deployment/production/billing-worker", Change: "replicas 4 → 2; requests -1 CPU, -2 GiB memory",
			Observed:    map[string]string{"replicas": "4", "generation": "3", "context": "prod-eu"},
			Utilization: "CPU 2% of requests, memory 10% of requests over 4 pods (metrics.k8s.io)",
			Dependencies: []checks.Dependency{
				{Resource: "service/production/billing", Relation: "selects its pods (ClusterIP)"},
				{Resource: "ingress/production/public", Relation: "routes billing.example/invoices → service billing"},
			},
			Risk: checks.RiskHigh,
			RiskReasons: []string{
				"idle (CPU 2% of requests) but 2 Services and Ingresses route to it: less spare capacity for them",
				`the namespace "production" looks like production`,
			},
			MonthlyCostChangeUSD: &cost, CostNote: "from the pods' requests at the configured prices",
			Preconditions: []string{"replicas is still 4 and the spec generation still 3"},
		},
	}
	var pending, applied bytes.Buffer
	WritePlan(&pending, NewPlan(plan))
	golden(t, "plan-pending.txt", pending.Bytes())

	plan.State, plan.DecidedBy, plan.Result = tasks.PlanApplied, "alice", &checks.Applied{Summary: "scaled deployment/production/billing-worker to 2 replicas"}
	plan.Dependencies, plan.Utilization, plan.MonthlyCostChangeUSD, plan.CostNote = nil, "", nil, ""
	WritePlan(&applied, NewPlan(plan))
	golden(t, "plan-applied.txt", applied.Bytes())
}
