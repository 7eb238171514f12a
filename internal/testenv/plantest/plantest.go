// Package plantest runs clankerd's plan machinery (planner, runner, task service,
// store with its audit log) on a fresh database, for provider tests of write tasks.
package plantest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// Registrar is a provider: it adds its checks and tasks to a registry.
type Registrar interface {
	Register(r *checks.Registry) error
}

// RegistrarFunc registers checks and tasks; it lets a test register a set that is no
// provider.
type RegistrarFunc func(r *checks.Registry) error

// Register calls f.
func (f RegistrarFunc) Register(r *checks.Registry) error { return f(r) }

// Machinery is the plan machinery of clankerd on a fresh database.
type Machinery struct {
	Reg     *checks.Registry
	DB      *store.DB
	Local   *control.Local
	Planner *tasks.Planner
	Runner  *runner.Runner
}

// New registers the provider and opens a database in a temporary directory; plans
// expire after expiry.
func New(t *testing.T, p Registrar, expiry time.Duration) *Machinery {
	t.Helper()
	reg := checks.NewRegistry()
	if err := p.Register(reg); err != nil {
		t.Fatal(err)
	}
	local, err := app.OpenLocal(t.TempDir(), store.Options{}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	r := app.NewRunner(reg, local, app.RunnerOptions{Actor: "test", PlanExpiry: expiry})
	return &Machinery{Reg: reg, DB: local.DB, Local: local, Planner: r.Planner.(*tasks.Planner), Runner: r}
}

// Item builds a heartbeat item the way the parser does.
func (m *Machinery) Item(t *testing.T, id string, raw map[string]string, fix string) heartbeat.Item {
	t.Helper()
	spec, kind, ok := m.Reg.Lookup(id)
	if !ok {
		t.Fatalf("no %s", id)
	}
	params, err := spec.Bind(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	it := heartbeat.NewItem("HEARTBEAT.md", heartbeat.Operator, id, kind, params, "")
	it.Line, it.Fix = 7, fix
	return it
}

// Queue runs a task item once, as a scheduled tick does, and returns the plan it
// queued.
func (m *Machinery) Queue(t *testing.T, it heartbeat.Item) tasks.PlanRecord {
	t.Helper()
	o := m.Runner.RunItem(t.Context(), it, runner.Trigger{Kind: store.TriggerSchedule})
	if o.Err != nil || o.Plan == nil {
		t.Fatalf("task item did not queue a plan: %+v %v", o.Receipt, o.Err)
	}
	return *o.Plan
}

// Audit returns the audit actions recorded about subject, in order, after verifying
// the chain.
func (m *Machinery) Audit(t *testing.T, subject string) []string {
	t.Helper()
	var actions []string
	err := m.DB.View(t.Context(), func(tx *store.Tx) error {
		if _, err := tx.VerifyAudit(); err != nil {
			return err
		}
		recs, err := tx.AuditLog(store.AuditFilter{})
		for _, r := range recs {
			if r.Subject == subject {
				actions = append(actions, r.Action)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return actions
}

// Draft plans a task item without saving the plan, as Planner.Draft does.
func (m *Machinery) Draft(t *testing.T, it heartbeat.Item) (tasks.Draft, error) {
	t.Helper()
	return m.Planner.Draft(t.Context(), tasks.Request{Task: it.ID, Params: it.Params, Item: it.Key, Source: it.File})
}

// Approve approves and applies a plan as `clankerd approve` does: it reads the plan
// and approves what it read.
func (m *Machinery) Approve(ctx context.Context, id, actor string) (tasks.PlanRecord, error) {
	p, err := control.OpPlan.Do(ctx, m.Local, id)
	if err != nil {
		return p, err
	}
	return control.OpApprove.Do(ctx, m.Local, control.Decision{ID: id, Actor: actor, Digest: p.Digest})
}

// Plans lists plans as `clankerd plans` does.
func (m *Machinery) Plans(ctx context.Context, f tasks.PlanFilter) ([]tasks.PlanRecord, error) {
	return control.OpPlans.Do(ctx, m.Local, f)
}

// Findings lists findings as `clankerd findings` does.
func (m *Machinery) Findings(ctx context.Context, f store.FindingFilter) ([]store.FindingRecord, error) {
	return control.OpFindings.Do(ctx, m.Local, f)
}

// ApproveStale approves a plan whose target changed after it and fails the test
// unless approve refuses it, marks it stale and says why.
func (m *Machinery) ApproveStale(t *testing.T, id, why string) {
	t.Helper()
	got, err := m.Approve(t.Context(), id, "alice")
	if !errors.Is(err, tasks.ErrStale) || got.State != tasks.PlanStale || !strings.Contains(got.Error, why) {
		t.Errorf("approve after drift: %v, %+v", err, got)
	}
}
