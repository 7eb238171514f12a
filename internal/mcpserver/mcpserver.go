// Package mcpserver serves clankerd to agents over the Model Context Protocol: route a
// question to checks and run them, run one named check, read findings and plans, and
// propose a plan. No tool can approve or apply anything; a write only ever becomes a
// pending plan that a person approves with `clankerd approve`.
package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/ask"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/view"
	"github.com/clankerd/clankerd/tasks"
)

// Server builds the MCP server.
type Server struct {
	Version string
	Ask     *ask.Service
	Catalog *checks.Registry
	// Runner runs the named checks of clanker_run_command; its State is where every
	// tool reads and records, its Planner drafts proposed plans, queued as its Actor
	// ("mcp:USER").
	Runner *runner.Runner
	Logger *slog.Logger
}

func ptr[T any](v T) *T { return &v }

// MCP returns the MCP server with every tool.
func (s *Server) MCP() *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "clankerd", Version: s.Version}, &mcp.ServerOptions{
		Instructions: "clankerd runs deterministic infrastructure checks (Kubernetes, AWS, HTTP/TCP/TLS) and keeps findings with a history. Prefer clankerd_findings with state=new to re-running checks. Changes are only ever proposed as pending plans that a person approves."})
	readOnly := &mcp.ToolAnnotations{ReadOnlyHint: true, DestructiveHint: ptr(false), IdempotentHint: true, OpenWorldHint: ptr(false)}
	mcp.AddTool(srv, &mcp.Tool{Name: "clanker_version", Description: "clankerd's version and how many checks and tasks it has.",
		Annotations: &mcp.ToolAnnotations{Title: "Version", ReadOnlyHint: true, DestructiveHint: ptr(false), IdempotentHint: true, OpenWorldHint: ptr(false)}}, cleanErrors(s.version))
	mcp.AddTool(srv, &mcp.Tool{Name: "clanker_route_question", Description: "Answer a plain-language question about the infrastructure (\"are all production pods healthy?\") by routing it to checks, running them and returning their results and findings. It reads live systems and records the runs in clankerd's history; it never changes anything (a change request is refused: use clankerd_propose_plan).",
		Annotations: &mcp.ToolAnnotations{Title: "Ask a question", ReadOnlyHint: false, DestructiveHint: ptr(false), IdempotentHint: false, OpenWorldHint: ptr(true)}}, cleanErrors(s.routeQuestion))
	mcp.AddTool(srv, &mcp.Tool{Name: "clanker_run_command", Description: "Run one named check with parameters (ids as in `clankerd lint --list`) and return its result and findings. Naming a write task queues a pending plan and returns its id; nothing is applied.",
		Annotations: &mcp.ToolAnnotations{Title: "Run a check", ReadOnlyHint: false, DestructiveHint: ptr(false), IdempotentHint: false, OpenWorldHint: ptr(true)}}, cleanErrors(s.runCommand))
	mcp.AddTool(srv, &mcp.Tool{Name: "clankerd_findings", Description: "Findings from clankerd's history, filtered by lifecycle state (new, changed, resolved, unchanged, open, all), check id, and since (a duration such as 30m or a time). state=new is what appeared since the last check.",
		Annotations: &mcp.ToolAnnotations{Title: "Findings", ReadOnlyHint: readOnly.ReadOnlyHint, DestructiveHint: readOnly.DestructiveHint, IdempotentHint: true, OpenWorldHint: ptr(false)}}, cleanErrors(s.findings))
	mcp.AddTool(srv, &mcp.Tool{Name: "clankerd_changes", Description: "What changed in exposure and access since a time, from the change-tracking checks' records (k8s.changes.*, aws.changes.*), newest first: resources added or widened beyond their baseline, changes reverted, removals and narrowings, and acceptances or resets by people. Ask for this delta instead of re-scanning.",
		Annotations: &mcp.ToolAnnotations{Title: "Changes", ReadOnlyHint: true, DestructiveHint: ptr(false), IdempotentHint: true, OpenWorldHint: ptr(false)}}, cleanErrors(s.changes))
	mcp.AddTool(srv, &mcp.Tool{Name: "clankerd_baselines", Description: "The baselines of the change-tracking checks: the exposure and access people accepted, and what is beyond it now (the open findings). Read-only: only a person can accept a change into a baseline or reset one, with `clankerd baseline accept` or `reset`.",
		Annotations: &mcp.ToolAnnotations{Title: "Baselines", ReadOnlyHint: true, DestructiveHint: ptr(false), IdempotentHint: true, OpenWorldHint: ptr(false)}}, cleanErrors(s.baselines))
	mcp.AddTool(srv, &mcp.Tool{Name: "clankerd_plans", Description: "Plans (proposed changes) and their state: pending, applied, rejected, expired, stale, failed.",
		Annotations: &mcp.ToolAnnotations{Title: "Plans", ReadOnlyHint: true, DestructiveHint: ptr(false), IdempotentHint: true, OpenWorldHint: ptr(false)}}, cleanErrors(s.plans))
	mcp.AddTool(srv, &mcp.Tool{Name: "clankerd_propose_plan", Description: "Propose a change as a pending plan: a write task id and its parameters. clankerd reads the live state, records the plan (target, observed state, change, risk, cost) and returns its id; only a person can apply it, with `clankerd approve ID`.",
		Annotations: &mcp.ToolAnnotations{Title: "Propose a plan", ReadOnlyHint: false, DestructiveHint: ptr(false), IdempotentHint: false, OpenWorldHint: ptr(true)}}, cleanErrors(s.proposePlan))
	return srv
}

// --- tools -----------------------------------------------------------------------

type versionOut struct {
	Version string `json:"version"`
	Checks  int    `json:"checks"`
	Tasks   int    `json:"tasks"`
}

func (s *Server) version(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, versionOut, error) {
	out := versionOut{Version: s.Version}
	for _, sp := range s.Catalog.Specs() {
		if _, kind, _ := s.Catalog.Lookup(sp.ID); kind == checks.KindTask {
			out.Tasks++
		} else {
			out.Checks++
		}
	}
	return nil, out, nil
}

type questionIn struct {
	Question string `json:"question" jsonschema:"the question, in plain words"`
}

func (s *Server) routeQuestion(ctx context.Context, _ *mcp.CallToolRequest, in questionIn) (*mcp.CallToolResult, view.Answer, error) {
	if strings.TrimSpace(in.Question) == "" {
		return nil, view.Answer{}, fmt.Errorf("question is empty: ask something such as \"are all production pods healthy?\"")
	}
	ans, err := s.Ask.Ask(ctx, ask.Request{Question: in.Question, Agent: true})
	if err != nil {
		return nil, view.Answer{}, err
	}
	out := view.NewAnswer(ans)
	return text(out.Answer), out, nil
}

type runIn struct {
	Check  string            `json:"check" jsonschema:"check or task id, such as k8s.pods.unhealthy"`
	Params map[string]string `json:"params,omitempty" jsonschema:"parameters, such as {\"namespace\": \"shop\"}"`
}

func (s *Server) runCommand(ctx context.Context, _ *mcp.CallToolRequest, in runIn) (*mcp.CallToolResult, view.Answer, error) {
	spec, kind, ok := s.Catalog.Lookup(in.Check)
	if !ok {
		hint := ""
		if sug := s.Catalog.Suggest(in.Check); len(sug) > 0 {
			hint = "; did you mean " + strings.Join(sug, ", ") + "?"
		}
		return nil, view.Answer{}, fmt.Errorf("no check or task %q%s", in.Check, hint)
	}
	params, err := spec.Bind(in.Params, nil)
	if err != nil {
		return nil, view.Answer{}, fmt.Errorf("%s: %w", in.Check, err)
	}
	item := heartbeat.NewItem(heartbeat.OriginAgent, heartbeat.Agent, in.Check, kind, params, "")
	o := s.Runner.RunItem(ctx, item, runner.Trigger{Kind: store.TriggerManual})
	ans := ask.Answer{Question: in.Check, RoutedBy: "named", Outcomes: []runner.Outcome{o}, Plan: o.Plan, PlanCreated: o.PlanCreated}
	if o.Plan != nil {
		ans.Answer = ask.Queued(*o.Plan)
	} else {
		ans.Answer = ask.Summarize(ans.Outcomes)
	}
	out := view.NewAnswer(ans)
	return text(out.Answer), out, nil
}

type findingsIn struct {
	State    string `json:"state,omitempty" jsonschema:"new, changed, resolved, unchanged, open (new+changed+unchanged) or all; default open"`
	Check    string `json:"check,omitempty" jsonschema:"only this check id"`
	Since    string `json:"since,omitempty" jsonschema:"only findings seen since: a duration (30m, 2h, 1d) or an RFC 3339 time"`
	Severity string `json:"severity,omitempty" jsonschema:"at least this severe: info, low, medium, high, critical"`
}

type findingsOut struct {
	Findings []view.Finding `json:"findings"`
}

func (s *Server) findings(ctx context.Context, _ *mcp.CallToolRequest, in findingsIn) (*mcp.CallToolResult, findingsOut, error) {
	f := store.FindingFilter{Check: in.Check}
	switch strings.ToLower(in.State) {
	case "", "open":
		f.States = []store.FindingState{store.FindingNew, store.FindingChanged, store.FindingUnchanged}
	case "all":
	case "new", "changed", "resolved", "unchanged":
		f.States = []store.FindingState{store.FindingState(strings.ToLower(in.State))}
	default:
		return nil, findingsOut{}, fmt.Errorf("state %q: use new, changed, resolved, unchanged, open or all", in.State)
	}
	if in.Since != "" {
		t, err := checks.ParseSince(in.Since, time.Now())
		if err != nil {
			return nil, findingsOut{}, fmt.Errorf("since: %w", err)
		}
		f.Since = t
	}
	if in.Severity != "" {
		sev, err := checks.ParseSeverity(in.Severity)
		if err != nil {
			return nil, findingsOut{}, err
		}
		f.Severity = sev
	}
	fs, err := control.OpFindings.Do(ctx, s.Runner.State, f)
	if err != nil {
		return nil, findingsOut{}, err
	}
	out := findingsOut{Findings: view.Findings(fs, nil)}
	return text(fmt.Sprintf("%d finding(s)", len(out.Findings))), out, nil
}

type changesIn struct {
	Since string `json:"since,omitempty" jsonschema:"only changes since: a duration (30m, 24h, 7d), a date or an RFC 3339 time; default all"`
	Check string `json:"check,omitempty" jsonschema:"only this check id, such as k8s.changes.access"`
	Limit int    `json:"limit,omitempty" jsonschema:"at most this many, newest first; default 200"`
}

type changesOut struct {
	Changes []view.Change `json:"changes"`
}

// maxChanges bounds what one clankerd_changes call returns when it names no limit.
const maxChanges = 200

func (s *Server) changes(ctx context.Context, _ *mcp.CallToolRequest, in changesIn) (*mcp.CallToolResult, changesOut, error) {
	f := store.ChangeFilter{Item: in.Check, Limit: in.Limit}
	if f.Limit <= 0 || f.Limit > maxChanges {
		f.Limit = maxChanges
	}
	if in.Check != "" && !strings.Contains(in.Check, ".") {
		return nil, changesOut{}, fmt.Errorf("check %q: give a check id such as k8s.changes.exposure", in.Check)
	}
	if in.Since != "" {
		t, err := checks.ParseSince(in.Since, time.Now())
		if err != nil {
			return nil, changesOut{}, fmt.Errorf("since: %w", err)
		}
		f.Since = t
	}
	cs, err := control.OpChanges.Do(ctx, s.Runner.State, f)
	if err != nil {
		return nil, changesOut{}, err
	}
	out := changesOut{Changes: view.Changes(cs)}
	if out.Changes == nil {
		out.Changes = []view.Change{}
	}
	return text(fmt.Sprintf("%d change(s)", len(out.Changes))), out, nil
}

type baselinesIn struct {
	Check    string `json:"check,omitempty" jsonschema:"only the baselines of this check id, such as aws.changes.access"`
	Resource string `json:"resource,omitempty" jsonschema:"only facts on resources matching this glob (* any run of characters)"`
}

type baselinesOut struct {
	Baselines []view.Baseline `json:"baselines"`
}

func (s *Server) baselines(ctx context.Context, _ *mcp.CallToolRequest, in baselinesIn) (*mcp.CallToolResult, baselinesOut, error) {
	if in.Check != "" && !strings.Contains(in.Check, ".") {
		return nil, baselinesOut{}, fmt.Errorf("check %q: give a check id such as k8s.changes.access", in.Check)
	}
	bs, err := control.OpBaselines.Do(ctx, s.Runner.State, store.BaselineSelector{Item: in.Check, Resource: in.Resource})
	if err != nil {
		return nil, baselinesOut{}, err
	}
	out := baselinesOut{Baselines: view.Baselines(bs)}
	if out.Baselines == nil {
		out.Baselines = []view.Baseline{}
	}
	return text(fmt.Sprintf("%d baseline(s)", len(out.Baselines))), out, nil
}

type plansIn struct {
	State string `json:"state,omitempty" jsonschema:"pending, applied, rejected, expired, stale, failed; default all"`
}

type plansOut struct {
	Plans []view.Plan `json:"plans"`
}

func (s *Server) plans(ctx context.Context, _ *mcp.CallToolRequest, in plansIn) (*mcp.CallToolResult, plansOut, error) {
	var f tasks.PlanFilter
	if in.State != "" {
		f.States = []tasks.PlanState{tasks.PlanState(strings.ToLower(in.State))}
	}
	ps, err := control.OpPlans.Do(ctx, s.Runner.State, f)
	if err != nil {
		return nil, plansOut{}, err
	}
	out := plansOut{Plans: view.Plans(ps)}
	return text(fmt.Sprintf("%d plan(s)", len(out.Plans))), out, nil
}

type proposeIn struct {
	Task   string            `json:"task" jsonschema:"write task id, such as k8s.deployment.scale"`
	Params map[string]string `json:"params" jsonschema:"its parameters, such as {\"deployment\": \"shop/api\", \"replicas\": \"4\"}"`
}

func (s *Server) proposePlan(ctx context.Context, _ *mcp.CallToolRequest, in proposeIn) (*mcp.CallToolResult, view.Plan, error) {
	spec, kind, ok := s.Catalog.Lookup(in.Task)
	if !ok || kind != checks.KindTask {
		return nil, view.Plan{}, fmt.Errorf("%q is not a write task; tasks are listed by `clankerd lint --list`", in.Task)
	}
	params, err := spec.Bind(in.Params, nil)
	if err != nil {
		return nil, view.Plan{}, fmt.Errorf("%s: %w", in.Task, err)
	}
	q, err := s.Runner.Propose(ctx, heartbeat.NewItem(heartbeat.OriginAgent, heartbeat.Agent, in.Task, kind, params, ""))
	if err != nil {
		return nil, view.Plan{}, err
	}
	return text(view.Redact(ask.Queued(q.Plan))), view.NewPlan(q.Plan), nil
}

// cleanErrors redacts a tool's error before the SDK hands its text to the agent: an
// error may quote a question, a parameter or a server.
func cleanErrors[In, Out any](h mcp.ToolHandlerFor[In, Out]) mcp.ToolHandlerFor[In, Out] {
	return func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		res, out, err := h(ctx, req, in)
		if err != nil {
			err = errors.New(view.Redact(err.Error()))
		}
		return res, out, err
	}
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}
