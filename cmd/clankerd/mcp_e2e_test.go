package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/clankerd/clankerd/internal/app"
)

// callJSON calls a tool and decodes its structured output.
func callJSON(t *testing.T, s *mcp.ClientSession, name string, args map[string]any, out any) *mcp.CallToolResult {
	t.Helper()
	res, err := s.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if out != nil && !res.IsError {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: decoding %s: %v", name, b, err)
		}
	}
	return res
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// stdioSession starts `clankerd mcp` on the state directory and connects the SDK's
// client to it over stdio; the session ends with the test. The tests' servers listen
// on loopback, so the operator's configuration lets agents reach it (loopbackAgents);
// reach_e2e_test.go tests the defaults.
func stdioSession(t *testing.T, state string) *mcp.ClientSession {
	t.Helper()
	return agentSession(t, state, loopbackAgents(t))
}

// stdioSessionTo is stdioSession with the server's command line given in full and its
// stderr (the log) written to stderr.
func stdioSessionTo(t *testing.T, stderr io.Writer, args ...string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "1"}, nil)
	cmd := exec.Command(binary, args...)
	cmd.Stderr = stderr
	session, err := client.Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { session.Close() })
	return session
}

// TestMCPOverStdio drives `clankerd mcp` through the official SDK client over stdio:
// every tool is listed with honest annotations and called; a write stays a pending
// plan; there is no tool that approves.
func TestMCPOverStdio(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	target := filepath.Join(dir, "config.txt")
	writeFile(t, target, "v1")
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer down.Close()

	session := stdioSession(t, state)

	tools, err := session.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*mcp.Tool{}
	for _, tool := range tools.Tools {
		byName[tool.Name] = tool
		for _, verb := range []string{"approve", "apply", "accept", "reset"} {
			if strings.Contains(tool.Name, verb) {
				t.Errorf("tool %s can %s: only a person approves plans and accepts or resets baselines", tool.Name, verb)
			}
		}
		if tool.Annotations == nil || tool.Annotations.DestructiveHint == nil || *tool.Annotations.DestructiveHint {
			t.Errorf("%s: annotations %+v, want destructive=false set", tool.Name, tool.Annotations)
		}
	}
	for _, want := range []struct {
		name     string
		readOnly bool
	}{{"clanker_version", true}, {"clanker_route_question", false}, {"clanker_run_command", false}, {"clankerd_findings", true}, {"clankerd_plans", true}, {"clankerd_propose_plan", false},
		{"clankerd_changes", true}, {"clankerd_baselines", true}} {
		tool, ok := byName[want.name]
		if !ok {
			t.Errorf("no tool %s", want.name)
			continue
		}
		if tool.Annotations.ReadOnlyHint != want.readOnly {
			t.Errorf("%s: readOnly = %v", want.name, tool.Annotations.ReadOnlyHint)
		}
	}

	var ver struct {
		Version string `json:"version"`
		Checks  int    `json:"checks"`
	}
	callJSON(t, session, "clanker_version", nil, &ver)
	if want := checkCount(t); ver.Version == "" || ver.Checks != want {
		t.Errorf("version = %+v, want %d checks", ver, want)
	}

	var ans struct {
		Results []struct {
			Status   string `json:"status"`
			Findings []struct {
				Resource string `json:"resource"`
				State    string `json:"state"`
			} `json:"findings"`
		} `json:"results"`
		Plan *struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"plan"`
	}
	callJSON(t, session, "clanker_run_command", map[string]any{"check": "http.status", "params": map[string]string{"url": down.URL}}, &ans)
	if len(ans.Results) != 1 || ans.Results[0].Status != "fail" || len(ans.Results[0].Findings) != 1 || ans.Results[0].Findings[0].State != "new" {
		t.Fatalf("run http.status: %+v", ans)
	}
	var fs struct {
		Findings []struct{ Fingerprint string } `json:"findings"`
	}
	callJSON(t, session, "clankerd_findings", map[string]any{"state": "new"}, &fs)
	if len(fs.Findings) != 1 {
		t.Errorf("new findings = %+v", fs)
	}

	// A question routed by the rules.
	callJSON(t, session, "clanker_route_question", map[string]any{"question": "does " + down.URL + "/healthz return 200?"}, &ans)
	if len(ans.Results) != 1 || ans.Results[0].Status != "fail" {
		t.Errorf("route_question: %+v", ans)
	}

	// A write task through run_command: only a pending plan.
	ans.Plan = nil
	callJSON(t, session, "clanker_run_command", map[string]any{"check": "test.file.set", "params": map[string]string{"path": target, "content": "v2"}}, &ans)
	if ans.Plan == nil || ans.Plan.State != "pending" {
		t.Fatalf("task through run_command: %+v", ans)
	}
	var plan struct {
		ID string `json:"id"`
	}
	res := callJSON(t, session, "clankerd_propose_plan", map[string]any{"task": "test.file.set", "params": map[string]string{"path": target, "content": "v3"}}, &plan)
	if res.IsError || !strings.Contains(resultText(res), "clankerd approve") {
		t.Errorf("propose_plan: %s", resultText(res))
	}
	// The same proposal while it is pending is that plan, not a second one.
	var again struct {
		ID string `json:"id"`
	}
	callJSON(t, session, "clankerd_propose_plan", map[string]any{"task": "test.file.set", "params": map[string]string{"path": target, "content": "v3"}}, &again)
	if again.ID == "" || again.ID != plan.ID {
		t.Errorf("proposing the same change again gave plan %q, want %q", again.ID, plan.ID)
	}
	var plans struct {
		Plans []struct{ ID, State string } `json:"plans"`
	}
	callJSON(t, session, "clankerd_plans", map[string]any{"state": "pending"}, &plans)
	if len(plans.Plans) != 2 {
		t.Errorf("pending plans = %+v", plans)
	}
	// The change log and the baselines are read-only tools; a bad time is an error.
	var changes struct {
		Changes []json.RawMessage `json:"changes"`
	}
	if res := callJSON(t, session, "clankerd_changes", map[string]any{"since": "24h"}, &changes); res.IsError || changes.Changes == nil {
		t.Errorf("clankerd_changes: %+v %+v", res, changes)
	}
	var baselines struct {
		Baselines []json.RawMessage `json:"baselines"`
	}
	if res := callJSON(t, session, "clankerd_baselines", map[string]any{"check": "k8s.changes.access"}, &baselines); res.IsError || baselines.Baselines == nil {
		t.Errorf("clankerd_baselines: %+v %+v", res, baselines)
	}
	if res := callJSON(t, session, "clankerd_changes", map[string]any{"since": "last tuesday"}, nil); !res.IsError {
		t.Errorf("clankerd_changes since=\"last tuesday\" is not an error: %+v", res)
	}
	if b, _ := os.ReadFile(target); string(b) != "v1" {
		t.Errorf("an MCP call changed the file to %q", b)
	}

	// Errors are tool errors that say what to do, and the session goes on.
	for _, bad := range []struct {
		name string
		args map[string]any
		want string
	}{
		{"clanker_run_command", map[string]any{"check": "http.staus"}, "did you mean http.status"},
		{"clanker_run_command", map[string]any{"check": "http.status", "params": map[string]string{"url": "not a url"}}, "url"},
		{"clankerd_findings", map[string]any{"state": "sideways"}, "use new, changed"},
		{"clankerd_propose_plan", map[string]any{"task": "http.status", "params": map[string]string{}}, "not a write task"},
		{"clanker_route_question", map[string]any{"question": "what is the meaning of life?"}, "no check matches"},
	} {
		res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: bad.name, Arguments: bad.args})
		if err != nil || !res.IsError || !strings.Contains(resultText(res), bad.want) {
			t.Errorf("%s %v: %v %s", bad.name, bad.args, err, func() string {
				if res != nil {
					return resultText(res)
				}
				return ""
			}())
		}
	}
	if _, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "clankerd_approve", Arguments: map[string]any{"id": plan.ID}}); err == nil {
		t.Error("calling an approve tool did not fail")
	}
}

// bearer adds a token (and maybe an Origin) to every request.
type bearer struct {
	token, origin string
	next          http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	if b.origin != "" {
		r.Header.Set("Origin", b.origin)
	}
	return b.next.RoundTrip(r)
}

// TestMCPOverHTTP serves MCP over HTTP from the binary: token, Origin, body size and
// malformed JSON-RPC are handled, and 50 concurrent calls through the SDK client all
// succeed.
func TestMCPOverHTTP(t *testing.T) {
	state := t.TempDir()
	url, token := startMCPHTTP(t, state)
	if fi, err := os.Stat(filepath.Join(state, app.TokenFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v %v", fi, err)
	}

	initBody := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`
	post := func(body, token, origin string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, body, token, origin string
		status                    int
	}{
		{"no token", initBody, "", "", http.StatusUnauthorized},
		{"wrong token", initBody, strings.Repeat("0", 64), "", http.StatusUnauthorized},
		{"foreign origin", initBody, token, "http://evil.example", http.StatusForbidden},
		{"loopback origin", initBody, token, "http://127.0.0.1:3000", http.StatusOK},
		{"too big", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`, token, "", http.StatusRequestEntityTooLarge},
	} {
		if got, body := post(tc.body, tc.token, tc.origin); got != tc.status {
			t.Errorf("%s: HTTP %d, want %d: %.200s", tc.name, got, tc.status, body)
		}
	}
	// Malformed JSON-RPC gets a JSON-RPC error, and the server keeps serving.
	for _, bad := range []struct {
		body string
		code int
	}{{`{"jsonrpc":"2.0","id":7,"method":`, -32700}, {`[]`, -32600}, {`{"id":1,"method":"tools/list"}`, -32600}, {`"hello"`, -32600}} {
		status, body := post(bad.body, token, "")
		var rpc struct {
			JSONRPC string `json:"jsonrpc"`
			Error   struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		if status != http.StatusBadRequest || json.Unmarshal([]byte(body), &rpc) != nil || rpc.JSONRPC != "2.0" || rpc.Error.Code != bad.code {
			t.Errorf("malformed JSON-RPC %s: HTTP %d %s", bad.body, status, body)
		}
	}

	hc := &http.Client{Transport: bearer{token: token, next: http.DefaultTransport}}
	client := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "1"}, nil)
	session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc}, nil)
	if err != nil {
		t.Fatalf("connecting with the token: %v", err)
	}
	defer session.Close()
	tools, err := session.ListTools(t.Context(), nil)
	if err != nil || len(tools.Tools) != 8 {
		t.Fatalf("tools over HTTP: %v %v", tools, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			name, args := "clanker_version", map[string]any(nil)
			if i%2 == 1 {
				name, args = "clankerd_findings", map[string]any{"state": "all"}
			}
			res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: args})
			if err == nil && res.IsError {
				err = fmt.Errorf("%s: %s", name, resultText(res))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// Without the token the SDK client cannot connect.
	if _, err := mcp.NewClient(&mcp.Implementation{Name: "x", Version: "1"}, nil).Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url}, nil); err == nil {
		t.Error("connected without a token")
	}

	// A non-loopback address needs --allow-remote.
	if r := cli(t, t.TempDir(), "mcp", "--transport", "http", "--listen", "0.0.0.0:0"); r.code != 3 || !strings.Contains(r.stderr, "--allow-remote") {
		t.Errorf("non-loopback listen: %+v", r)
	}
}

// TestExplainModelCalls counts model calls through the binary: a 50-check run where
// everything passes makes none; a run with 10 new failures makes 10; the same run again
// makes none (the findings are unchanged and their explanations cached).
func TestExplainModelCalls(t *testing.T) {
	var calls atomic.Int32
	ollama := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/chat" {
			http.NotFound(w, r)
			return
		}
		calls.Add(1)
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprint(w, `{"model":"tiny","message":{"role":"assistant","content":"Nothing listens on that port. Fix: start the service or correct the address."},"done":true}`+"\n")
	}))
	defer ollama.Close()
	state, dir := t.TempDir(), t.TempDir()
	var open, closed []string
	for range 50 {
		open = append(open, listen(t))
	}
	for range 10 {
		closed = append(closed, closedPort(t))
	}
	hb := filepath.Join(dir, "HEARTBEAT.md")
	write := func(failing int) {
		var b strings.Builder
		b.WriteString("## Every 5 minutes\n")
		for i := range 50 {
			addr := open[i]
			if i < failing {
				addr = closed[i]
			}
			fmt.Fprintf(&b, "- `tcp.connect` addr=%s\n", addr)
		}
		writeFile(t, hb, b.String())
	}
	run := func(wantCode int) {
		t.Helper()
		r := cli(t, state, "check", hb, "--explain", "--model", "tiny", "--model-host", ollama.URL, "-o", "json")
		if r.code != wantCode {
			t.Fatalf("check --explain: exit %d, want %d\n%s", r.code, wantCode, r.stderr)
		}
	}
	write(0)
	run(0)
	if n := calls.Load(); n != 0 {
		t.Errorf("all passing: %d model calls, want 0", n)
	}
	write(10)
	run(1)
	if n := calls.Load(); n != 10 {
		t.Errorf("10 new failures: %d model calls, want 10", n)
	}
	run(1)
	if n := calls.Load(); n != 10 {
		t.Errorf("the same failures again: %d more model calls, want 0", n-10)
	}
	if r := cli(t, state, "findings", "-o", "json"); !strings.Contains(r.stdout, "Nothing listens on that port") {
		t.Errorf("findings do not show the explanation: %s", r.stdout)
	}
	t.Logf("model calls: all-pass run 0, 10 new failures %d, same run again %d", 10, calls.Load()-10)
}

// TestMCPWithDaemon: while the daemon runs, MCP calls go through its control socket
// (the database stays the daemon's), and see the daemon's findings.
func TestMCPWithDaemon(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 1 seconds\n- `tcp.connect` addr=%s\n", closedPort(t)))
	startDaemon(t, state, "--heartbeat", hb)
	waitFor(t, 20*time.Second, "the daemon's first finding", func() bool {
		r := cli(t, state, "findings", "-o", "json")
		return strings.Contains(r.stdout, `"state": "new"`) || strings.Contains(r.stdout, `"state":"new"`) || strings.Contains(r.stdout, "unchanged")
	})
	session := stdioSession(t, state)
	var fs struct {
		Findings []struct{ Resource string } `json:"findings"`
	}
	callJSON(t, session, "clankerd_findings", map[string]any{"state": "open"}, &fs)
	if len(fs.Findings) != 1 || !strings.HasPrefix(fs.Findings[0].Resource, "tcp://") {
		t.Errorf("findings through the daemon = %+v", fs)
	}
	var ans struct {
		Results []struct{ Status string } `json:"results"`
	}
	callJSON(t, session, "clanker_run_command", map[string]any{"check": "tcp.connect", "params": map[string]string{"addr": closedPort(t)}}, &ans)
	if len(ans.Results) != 1 || ans.Results[0].Status != "fail" {
		t.Errorf("run through the daemon = %+v", ans)
	}
}

// TestDaemonExplainsAndShowsBudget: `run --explain` explains a new failing finding once
// and `status` shows the model's budget.
func TestDaemonExplainsAndShowsBudget(t *testing.T) {
	var calls atomic.Int32
	ollama := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprint(w, `{"model":"tiny","message":{"role":"assistant","content":"Nothing listens there. Fix: start it."},"done":true}`+"\n")
	}))
	defer ollama.Close()
	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 1 seconds\n- `tcp.connect` addr=%s\n", closedPort(t)))
	startDaemon(t, state, "--heartbeat", hb, "--explain", "--model", "tiny", "--model-host", ollama.URL, "--model-calls-per-hour", "5")
	var st struct {
		Daemon struct {
			Model *struct {
				Model    string `json:"model"`
				ThisHour int    `json:"this_hour"`
				PerHour  int    `json:"per_hour_limit"`
			} `json:"model"`
		} `json:"daemon"`
	}
	waitFor(t, 20*time.Second, "an explanation", func() bool {
		r := cli(t, state, "findings", "-o", "json")
		return strings.Contains(r.stdout, "Nothing listens there")
	})
	time.Sleep(2 * time.Second) // more ticks: the finding is unchanged, no more calls
	jsonOut(t, state, 0, &st, "status")
	if m := st.Daemon.Model; m == nil || m.Model != "tiny" || m.ThisHour != 1 || m.PerHour != 5 || calls.Load() != 1 {
		t.Errorf("status model = %+v, %d calls", m, calls.Load())
	}
}

// TestSecretsRedactedInOutput: a probe whose target URL carries credentials and whose
// server answers with a token shows neither in check output, findings or logs.
func TestSecretsRedactedInOutput(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	state, dir := t.TempDir(), t.TempDir()
	u := strings.Replace(srv.URL, "http://", "http://admin:hunter2hunter2@", 1)
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Hourly\n- `http.status` url=%s/health?token=abc\n", u))
	for _, args := range [][]string{{"--log-level", "debug", "check", hb}, {"check", hb, "-o", "json"}, {"findings"}, {"findings", "-o", "json"}} {
		r := cli(t, state, args...)
		if strings.Contains(r.stdout+r.stderr, "hunter2hunter2") {
			t.Errorf("clankerd %v printed the password:\n%s\n%s", args, r.stdout, r.stderr)
		}
		if args[len(args)-1] == "json" && !strings.Contains(r.stdout, "[REDACTED]@") {
			t.Errorf("clankerd %v does not show the redacted URL:\n%s", args, r.stdout)
		}
	}
}
