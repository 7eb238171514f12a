package mcpserver

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// noteTask plans a change it can always apply.
type noteTask struct{}

func (noteTask) Spec() checks.Spec {
	return checks.Spec{ID: "test.note", Description: "write a note (tests only)"}
}
func (noteTask) Plan(context.Context, checks.Params) (checks.Plan, error) {
	return checks.Plan{Target: "notes/1", Observed: map[string]string{"v": "1"}, Change: "note", Risk: checks.RiskLow}, nil
}
func (noteTask) Apply(context.Context, checks.Plan) (checks.Applied, error) {
	return checks.Applied{Summary: "noted"}, nil
}

// reviews accepts the tokens it maps; "review-down" cannot be reviewed.
type reviews map[string]control.Caller

func (r reviews) Authenticate(_ context.Context, token string) (control.Caller, error) {
	if token == "review-down" {
		return control.Caller{}, errors.New("connection refused")
	}
	if c, ok := r[token]; ok {
		return c, nil
	}
	return control.Caller{}, control.ErrUnauthenticated
}

// grants gives each user the accesses listed ("create plans"); "*" is everything.
type grants map[string][]string

func (g grants) Authorize(_ context.Context, c control.Caller, a control.Access) (bool, error) {
	return slices.Contains(g[c.User], "*") || slices.Contains(g[c.User], a.Verb+" "+a.Resource), nil
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// teamMCP serves MCP with Kubernetes-style authentication over a fresh state.
func teamMCP(t *testing.T) (url string, local *control.Local) {
	t.Helper()
	reg := checks.NewRegistry()
	if err := reg.AddTask(noteTask{}); err != nil {
		t.Fatal(err)
	}
	local, err := app.OpenLocal(t.TempDir(), store.Options{}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	s := &Server{Version: "test", Catalog: reg, Runner: &runner.Runner{Checks: reg, Tasks: reg, Planner: &tasks.Planner{Tasks: reg}, State: local, Actor: "mcp:daemon"}}
	h := s.Handler(HTTPOptions{
		Authenticator: reviews{"t-alice": {User: "alice", Groups: []string{"sre"}}, "t-vera": {User: "vera"}},
		// alice may do anything RBAC can grant, approve included.
		Authorizer: grants{"alice": {"*"}, "vera": {"list plans", "list findings"}},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/mcp", local
}

func connect(t *testing.T, url, token string) (*mcp.ClientSession, error) {
	t.Helper()
	hc := &http.Client{Transport: bearer{token, http.DefaultTransport}}
	return mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "1"}, nil).Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc}, nil)
}

// TestTeamMCPAuth: on a team server an MCP caller is a reviewed Kubernetes identity:
// a token the cluster refuses is 401 and one it cannot review 503; each tool call
// needs its RBAC access; what the agent proposes is audited under its user and
// groups; and even an identity RBAC lets approve finds no way to decide.
func TestTeamMCPAuth(t *testing.T) {
	url, local := teamMCP(t)
	for token, want := range map[string]int{"": 401, "t-nobody": 401, "review-down": 503} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("token %q: HTTP %d, want %d", token, resp.StatusCode, want)
		}
	}

	alice, err := connect(t, url, "t-alice")
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	tools, err := alice.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		if _, ok := toolAccess[tool.Name]; !ok {
			t.Errorf("tool %s has no access in toolAccess: a team server would refuse it", tool.Name)
		}
		for _, decides := range []string{"approve", "reject", "mute", "accept", "reset"} {
			if strings.Contains(tool.Name, decides) {
				t.Errorf("tool %s decides", tool.Name)
			}
		}
	}
	res, err := alice.CallTool(t.Context(), &mcp.CallToolParams{Name: "clankerd_propose_plan", Arguments: map[string]any{"task": "test.note", "params": map[string]string{}}})
	if err != nil || res.IsError {
		t.Fatalf("alice proposes: %v %+v", err, res)
	}
	plans, err := control.OpPlans.Do(t.Context(), local, tasks.PlanFilter{})
	if err != nil || len(plans) != 1 {
		t.Fatalf("plans after the proposal: %+v %v", plans, err)
	}
	recs, err := control.OpAudit.Do(t.Context(), local, store.AuditFilter{})
	if err != nil || len(recs) == 0 || recs[0].Actor != "mcp:daemon (by alice)" || !slices.Equal(recs[0].Groups, []string{"sre"}) {
		t.Errorf("proposal audited as %+v %v, want mcp:daemon (by alice) in sre", recs, err)
	}
	// Nothing an MCP caller reaches decides: the state API refuses it as an agent's.
	if _, err := control.OpApprove.Do(control.WithCaller(t.Context(), control.Caller{User: "alice", Via: control.ViaMCP}), local, control.Decision{ID: plans[0].ID, Digest: plans[0].Digest}); !errors.Is(err, control.ErrAgentDecision) {
		t.Errorf("approve as an MCP caller: %v", err)
	}

	vera, err := connect(t, url, "t-vera")
	if err != nil {
		t.Fatal(err)
	}
	defer vera.Close()
	if res, err := vera.CallTool(t.Context(), &mcp.CallToolParams{Name: "clankerd_plans", Arguments: map[string]any{}}); err != nil || res.IsError {
		t.Errorf("vera lists plans: %v %+v", err, res)
	}
	for name, args := range map[string]map[string]any{
		"clankerd_propose_plan": {"task": "test.note", "params": map[string]string{}},
		"clanker_run_command":   {"check": "test.note"},
		"clankerd_changes":      {},
	} {
		_, err := vera.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: args})
		if err == nil || !strings.Contains(err.Error(), "vera may not") {
			t.Errorf("vera's %s without the RBAC for it: %v, want a refusal naming the access", name, err)
		}
	}
}
