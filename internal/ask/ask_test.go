package ask_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clankerd/clankerd/internal/ask"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/checks/probe"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/route"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/testenv/plantest"
	"github.com/clankerd/clankerd/internal/testenv/testnet"
	"github.com/clankerd/clankerd/tasks"
)

// writeTask is a write task that records whether it was ever applied.
type writeTask struct{ applied bool }

func (*writeTask) Spec() checks.Spec {
	return checks.Spec{ID: "test.service.restart", Description: "restart a service", Keywords: []string{"restart", "service"}, Verbs: []string{"restart"},
		Params: []checks.ParamSpec{{Name: "service", Type: checks.String, Required: true}}}
}
func (*writeTask) Plan(_ context.Context, p checks.Params) (checks.Plan, error) {
	return checks.Plan{Target: "service/" + p.Get("service"), Observed: map[string]string{"running": "true"}, Change: "restart", Risk: checks.RiskMedium}, nil
}
func (w *writeTask) Apply(context.Context, checks.Plan) (checks.Applied, error) {
	w.applied = true
	return checks.Applied{}, nil
}

// The task is its own provider for the router: it takes the service from "restart
// service NAME" and knows no names.
func (*writeTask) Extract(q checks.Question, spec checks.Spec, _ map[string][]string) []checks.Proposal {
	e := checks.NewExtraction(spec)
	e.Set("service", q.After([]string{"service"}), "the question")
	return e.Proposals()
}
func (*writeTask) Names(context.Context) map[string][]string { return nil }

// modelStub routes every question to one check.
type modelStub struct {
	routes []route.Route
	err    error
	asked  int
}

func (m *modelStub) RouteQuestion(context.Context, string, bool) ([]route.Route, error) {
	m.asked++
	return m.routes, m.err
}

func setup(t *testing.T) (*ask.Service, *control.Local, *writeTask) {
	t.Helper()
	task := &writeTask{}
	m := plantest.New(t, plantest.RegistrarFunc(func(r *checks.Registry) error {
		return errors.Join(probe.Register(r), r.AddTask(task))
	}), 0)
	return &ask.Service{Router: route.New(m.Reg, task), Catalog: m.Reg, Runner: m.Runner}, m.Local, task
}

func TestAskRunsRoutedChecks(t *testing.T) {
	svc, local, _ := setup(t)
	closed := testnet.ClosedPort(t)
	ans, err := svc.Ask(t.Context(), ask.Request{Question: "can we connect to " + closed + "?"})
	if err != nil {
		t.Fatal(err)
	}
	if ans.RoutedBy != "rules" || len(ans.Routes) != 1 || ans.Routes[0].Check != "tcp.connect" || len(ans.Outcomes) != 1 ||
		ans.Outcomes[0].Receipt.Status != checks.Fail || !strings.HasPrefix(ans.Answer, "Problems found by 1 of 1") {
		t.Fatalf("answer = %+v", ans)
	}
	// Recorded like `clankerd check`: the finding is in the history.
	fs, err := control.OpFindings.Do(t.Context(), local, store.FindingFilter{States: []store.FindingState{store.FindingNew}})
	if err != nil || len(fs) != 1 {
		t.Errorf("findings after ask = %+v, %v", fs, err)
	}
	if o := ans.Outcomes[0]; o.Item.Trust != heartbeat.Operator {
		t.Errorf("the operator's question ran with %s trust", o.Item.Trust)
	}
	// The same question from an agent is held to the agent policy: loopback is refused.
	ans, err = svc.Ask(t.Context(), ask.Request{Question: "can we connect to " + closed + "?", Agent: true})
	if err != nil || len(ans.Outcomes) != 1 {
		t.Fatalf("agent's question: %+v %v", ans, err)
	}
	if o := ans.Outcomes[0]; o.Item.Trust != heartbeat.Agent || o.Receipt.Status != checks.Error || !strings.Contains(o.Receipt.Error, checks.DestinationsSetting) {
		t.Errorf("agent's question: trust %s, %s %q", o.Item.Trust, o.Receipt.Status, o.Receipt.Error)
	}
}

func TestAskMakerQueuesAPlan(t *testing.T) {
	svc, _, task := setup(t)
	ans, err := svc.Ask(t.Context(), ask.Request{Question: "restart service billing", Maker: true})
	if err != nil || ans.Plan == nil || ans.Plan.State != tasks.PlanPending || !strings.Contains(ans.Answer, "clankerd approve "+ans.Plan.ID) {
		t.Fatalf("with maker: %+v %v", ans, err)
	}
	if task.applied {
		t.Error("ask applied a change")
	}
}

func TestAskModelFallback(t *testing.T) {
	svc, _, _ := setup(t)
	if _, err := svc.Ask(t.Context(), ask.Request{Question: "how are things?"}); !errors.Is(err, ask.ErrUnroutable) {
		t.Fatalf("no model: %v", err)
	}
	m := &modelStub{routes: []route.Route{{Check: "tcp.connect", Kind: "check", Params: map[string]string{"addr": testnet.ClosedPort(t)}}}}
	svc.Model = m
	ans, err := svc.Ask(t.Context(), ask.Request{Question: "how are things?"})
	if err != nil || ans.RoutedBy != "model" || m.asked != 1 || len(ans.Outcomes) != 1 {
		t.Fatalf("model route: %+v %v", ans, err)
	}
	// The model chose the check and its address: an agent's words, held to the agent
	// policy even at the operator's terminal.
	if o := ans.Outcomes[0]; o.Item.Trust != heartbeat.Agent || o.Receipt.Status != checks.Error || !strings.Contains(o.Receipt.Error, checks.DestinationsSetting) {
		t.Errorf("model-routed run: trust %s, %s %q", o.Item.Trust, o.Receipt.Status, o.Receipt.Error)
	}
	// The rules answer first: a routable question never reaches the model.
	if _, err := svc.Ask(t.Context(), ask.Request{Question: "can we connect to " + testnet.ClosedPort(t) + "?"}); err != nil || m.asked != 1 {
		t.Errorf("routable question asked the model (%d): %v", m.asked, err)
	}
	// A model pick that does not bind is refused before anything runs.
	m.routes = []route.Route{{Check: "tcp.connect", Kind: "check", Params: map[string]string{"addr": "nowhere"}}}
	if _, err := svc.Ask(t.Context(), ask.Request{Question: "how are things?"}); !errors.Is(err, ask.ErrIncomplete) {
		t.Errorf("invalid model params: %v", err)
	}
	m.routes, m.err = nil, errors.New("model down")
	if _, err := svc.Ask(t.Context(), ask.Request{Question: "how are things?"}); !errors.Is(err, ask.ErrUnroutable) || !strings.Contains(err.Error(), "model down") {
		t.Errorf("model failure: %v", err)
	}
}

// TestAskPreviewsAChange: without maker a change request shows the plan it would
// queue and queues nothing; so does a question about what a change would cost, with
// maker too. An agent's change request is still refused.
func TestAskPreviewsAChange(t *testing.T) {
	svc, local, task := setup(t)
	for _, tt := range []struct {
		q        string
		maker    bool
		estimate bool
	}{
		{"restart service billing", false, false},
		{"estimate the cost of restarting service billing", false, true},
		{"What would it cost to restart service billing?", true, true},
		{"estimate monthly cost change for restarting service billing", true, true},
	} {
		ans, err := svc.Ask(t.Context(), ask.Request{Question: tt.q, Maker: tt.maker})
		if err != nil || ans.Preview == nil || ans.Plan != nil || ans.Preview.Target != "service/billing" || ans.Estimate != tt.estimate || !strings.Contains(ans.Answer, "Nothing was queued") {
			t.Errorf("%q: %+v %v", tt.q, ans, err)
		}
	}
	if ps, err := control.OpPlans.Do(t.Context(), local, tasks.PlanFilter{}); err != nil || len(ps) != 0 {
		t.Errorf("previews queued %d plan(s), %v", len(ps), err)
	}
	if _, err := svc.Ask(t.Context(), ask.Request{Question: "restart service billing", Agent: true}); !errors.Is(err, ask.ErrWriteRefused) {
		t.Errorf("agent's change request: %v", err)
	}
	// With maker it is queued once: asked again while pending, it is the same plan.
	first, err := svc.Ask(t.Context(), ask.Request{Question: "restart service billing", Maker: true})
	if err != nil || first.Plan == nil || !first.PlanCreated {
		t.Fatalf("with maker: %+v %v", first, err)
	}
	again, err := svc.Ask(t.Context(), ask.Request{Question: "restart service billing", Maker: true})
	if err != nil || again.Plan == nil || again.PlanCreated || again.Plan.ID != first.Plan.ID {
		t.Errorf("asked again: %+v %v, want plan %s", again, err, first.Plan.ID)
	}
	if task.applied {
		t.Error("ask applied a change")
	}
}
