//go:build !clankerd_nogithub

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/clankerd/clankerd/internal/testenv/ghtest"
)

// githubOrg is a stand-in organization: acme/api with an open Dependabot alert and a
// scheduled workflow GitHub disabled for inactivity.
func githubOrg(t *testing.T) *ghtest.Server {
	t.Helper()
	created := time.Now().Add(-400 * 24 * time.Hour)
	return ghtest.Start(t, ghtest.Require(t), ghtest.Options{}, &ghtest.Repo{
		Owner: "acme", Name: "api", DefaultBranch: "main", Private: true,
		Workflows: []*ghtest.Workflow{{ID: 14, Name: "backup", Path: ".github/workflows/backup.yml", State: "disabled_inactivity", Created: created,
			Content: "on:\n  schedule:\n    - cron: '30 1 * * *'\njobs: {}\n"}},
		Runs: []*ghtest.Run{{ID: 501, WorkflowID: 14, Number: 60, Attempt: 1, Event: "schedule", Status: "completed", Conclusion: "success",
			Branch: "main", SHA: "aaaa", Created: time.Now().Add(-time.Hour)}},
		Dependabot: []*ghtest.DependabotAlert{{Number: 1, State: "open", Severity: "high", Ecosystem: "npm", Package: "lodash",
			GHSA: "GHSA-aaaa-bbbb-cccc", Summary: "Prototype pollution", Manifest: "package-lock.json", Patched: "4.17.21"}},
		Protection: &ghtest.Protection{RequiredReviews: 1},
	})
}

// TestGitHubThroughCLI runs the built binary against the stand-in with the token in
// gh's hosts.yml: an open alert is found, fix= queues the enable plan, approve
// applies it, and the alert, dismissed on GitHub, resolves its finding.
func TestGitHubThroughCLI(t *testing.T) {
	s := githubOrg(t)
	ghDir := t.TempDir()
	writeFile(t, filepath.Join(ghDir, "hosts.yml"), "127.0.0.1:\n    user: octocat\n    oauth_token: "+ghtest.Token+"\n    git_protocol: https\n")
	envs := []string{"GH_CONFIG_DIR=" + ghDir, "GH_TOKEN=", "GITHUB_TOKEN=", "GH_ENTERPRISE_TOKEN=", "GITHUB_ENTERPRISE_TOKEN=", "GH_HOST="}

	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("---\ngithub_owner: acme\ngithub_api_url: %s\n---\n## Hourly\n- `github.dependabot.alerts` min_severity=medium\n- `github.actions.disabled` fix=github.workflow.enable\n", s.URL))
	check := func(wantCode int) checkOutput {
		t.Helper()
		r := cliEnv(t, envs, state, "check", hb, "-o", "json")
		var out checkOutput
		if r.code != wantCode || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Results) != 2 {
			t.Fatalf("check: exit %d, want %d\n%s\n%s", r.code, wantCode, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, ghtest.Token) {
			t.Error("the output shows the token")
		}
		return out
	}
	out := check(1)
	alerts, disabled := out.Results[0], out.Results[1]
	if f := alerts.Findings; len(f) != 1 || f[0].Resource != "alert/acme/api/dependabot/1" || f[0].Severity != "high" || f[0].State != "new" {
		t.Fatalf("alert findings = %+v", alerts)
	}
	if f := disabled.Findings; len(f) != 1 || f[0].Resource != "workflow/acme/api/backup.yml" {
		t.Fatalf("disabled findings = %+v", disabled)
	}

	r := cliEnv(t, envs, state, "plans", "-o", "json")
	var plans struct {
		Plans []struct{ ID, Task, Change string } `json:"plans"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &plans) != nil || len(plans.Plans) != 1 || plans.Plans[0].Task != "github.workflow.enable" {
		t.Fatalf("plans: %+v", r)
	}
	if s.Stats().Enables != 0 {
		t.Fatal("queueing the plan enabled the workflow")
	}
	if r := cliEnv(t, envs, state, "approve", plans.Plans[0].ID, "--yes"); r.code != 0 || s.Stats().Enables != 1 {
		t.Fatalf("approve: %+v, %d enables", r, s.Stats().Enables)
	}

	// Dismissed on GitHub: the next check resolves the finding.
	s.Change(func(rs []*ghtest.Repo) { rs[0].Dependabot[0].State = "dismissed" })
	out = check(0)
	if out.Results[0].Status != "pass" || out.Results[1].Status != "pass" {
		t.Errorf("after the dismissal and the enable: %+v", out.Results)
	}
	r = cliEnv(t, envs, state, "findings", "--state", "resolved", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, "alert/acme/api/dependabot/1") || !strings.Contains(r.stdout, "workflow/acme/api/backup.yml") {
		t.Errorf("resolved findings: %+v", r)
	}
}

// TestGitHubScanWithoutToken: `scan --provider github` with no token anywhere comes
// out skipped, never passed, and says how to log in.
func TestGitHubScanWithoutToken(t *testing.T) {
	envs := []string{"GH_CONFIG_DIR=" + t.TempDir(), "GH_TOKEN=", "GITHUB_TOKEN=", "GH_HOST="}
	r := cliEnv(t, envs, t.TempDir(), "scan", "--provider", "github", "-o", "json")
	var out checkOutput
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Results) != 7 {
		t.Fatalf("scan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, res := range out.Results {
		if res.Status != "skipped" {
			t.Errorf("%s: %s, want skipped", res.Check, res.Status)
		}
	}
	if !strings.Contains(r.stdout, "gh auth login") {
		t.Errorf("the skip reason does not say how to log in:\n%s", r.stdout)
	}
}

// TestGitHubAgentParams: over MCP, api_url= and host= would send the operator's token
// to the agent's host; each is refused and the host gets nothing, while the values
// the configuration allows are accepted.
func TestGitHubAgentParams(t *testing.T) {
	var tokens atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			tokens.Add(1)
		}
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer collector.Close()
	t.Setenv("GH_ENTERPRISE_TOKEN", ghtest.Token)
	t.Setenv("GH_TOKEN", ghtest.Token)
	t.Setenv("GH_CONFIG_DIR", t.TempDir())
	t.Setenv("GH_HOST", "")

	s := agentSession(t, t.TempDir(), agentConfig(t, ""))
	status, errText := runOne(t, s, "github.repos.visibility", map[string]string{"owner": "acme", "api_url": collector.URL})
	wantRefusal(t, "api_url=", status, errText, "parameter api_url", "add \""+collector.URL+"\" to agents.params.api_url")
	status, errText = runOne(t, s, "github.repos.visibility", map[string]string{"owner": "acme", "host": "ghe.attacker.example"})
	wantRefusal(t, "host=", status, errText, `add "ghe.attacker.example" to agents.params.host`)
	res, err := s.CallTool(t.Context(), &mcp.CallToolParams{Name: "clanker_run_command", Arguments: map[string]any{
		"check": "github.repos.visibility", "params": map[string]string{"repos": "acme/../../x"}}})
	if err != nil || !res.IsError || !strings.Contains(resultText(res), "is not a GitHub repository OWNER/NAME") {
		t.Errorf("repos= outside GitHub's charset: %v %+v", err, res)
	}
	if n := tokens.Load(); n != 0 {
		t.Errorf("%d requests with the token reached the agent's host", n)
	}

	allowed := agentSession(t, t.TempDir(), agentConfig(t, fmt.Sprintf("agents:\n  destinations: [127.0.0.0/8]\n  params:\n    api_url: [%q]\n", collector.URL)))
	if _, errText := runOne(t, allowed, "github.repos.visibility", map[string]string{"owner": "acme", "api_url": collector.URL}); strings.Contains(errText, "refused for an agent") {
		t.Errorf("api_url allowed by the configuration: %s", errText)
	}
	if tokens.Load() == 0 {
		t.Error("the allowed api_url got no request")
	}
}
