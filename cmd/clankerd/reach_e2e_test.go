package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/clankerd/clankerd/internal/testenv/awstest"
	"github.com/clankerd/clankerd/internal/testenv/testnet"
)

// The tests of issue 12 ("agents can ask but never reach"): each one performs an
// attack through the built binary — over MCP with the official SDK client, as an
// agent would — and shows it refused, and that the operator's own paths still work.

// agentConfig writes a config.yaml holding body and returns its path; with body ""
// it returns the path of a file that does not exist: the defaults.
func agentConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if body != "" {
		writeFile(t, path, body)
	}
	return path
}

// loopbackAgents is the configuration of the MCP tests whose servers all listen on
// loopback: the operator lets agents reach 127.0.0.0/8.
func loopbackAgents(t *testing.T) string {
	t.Helper()
	return agentConfig(t, "agents:\n  destinations: [127.0.0.0/8]\n")
}

// agentSession is `clankerd mcp` on state with the configuration at config.
func agentSession(t *testing.T, state, config string) *mcp.ClientSession {
	t.Helper()
	return stdioSessionTo(t, os.Stderr, "--state-dir", state, "--config", config, "mcp")
}

// secretServer is a loopback HTTP service holding a secret, as a metadata service or
// an internal admin endpoint would, counting the requests that reach it.
func secretServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// agentAnswer is what the MCP tools that run checks return.
type agentAnswer struct {
	Results []struct {
		Check  string `json:"check"`
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"results"`
	Answer string `json:"answer"`
}

// runOne calls clanker_run_command and returns its one result's status and error.
func runOne(t *testing.T, s *mcp.ClientSession, check string, params map[string]string) (status, errText string) {
	t.Helper()
	var ans agentAnswer
	res := callJSON(t, s, "clanker_run_command", map[string]any{"check": check, "params": params}, &ans)
	if res.IsError {
		t.Fatalf("%s %v: tool error %s", check, params, resultText(res))
	}
	if len(ans.Results) != 1 {
		t.Fatalf("%s %v: %+v", check, params, ans)
	}
	return ans.Results[0].Status, ans.Results[0].Error
}

// wantRefusal requires a run to be an error whose message says each of want.
func wantRefusal(t *testing.T, what, status, errText string, want ...string) {
	t.Helper()
	if status != "error" {
		t.Errorf("%s: status %s (%s), want error", what, status, errText)
	}
	for _, w := range want {
		if !strings.Contains(errText, w) {
			t.Errorf("%s: error %q does not say %q", what, errText, w)
		}
	}
}

// TestReachMCPDestinations (hole 1): over MCP, http.status to a loopback service and
// to the metadata address, and tcp.connect to loopback ports, open or closed, are
// refused at dial time (the service never sees a request; an open and a closed port
// look the same); with agents.destinations allowing loopback the same call works.
func TestReachMCPDestinations(t *testing.T) {
	state := t.TempDir()
	srv, hits := secretServer(t)
	config := agentConfig(t, "")
	s := agentSession(t, state, config)

	status, errText := runOne(t, s, "http.status", map[string]string{"url": srv.URL + "/latest/meta-data/iam/security-credentials/"})
	wantRefusal(t, "http.status to loopback", status, errText, "refused to dial "+srv.Listener.Addr().String(), "loopback", "agents.destinations", config)
	status, errText = runOne(t, s, "http.status", map[string]string{"url": "http://169.254.169.254/latest/meta-data/", "timeout": "3s"})
	wantRefusal(t, "http.status to the metadata address", status, errText, "refused to dial 169.254.169.254:80", "cloud metadata", "add 169.254.169.254/32 to agents.destinations")
	// A name that resolves to loopback is judged by the address it resolves to.
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	status, errText = runOne(t, s, "http.status", map[string]string{"url": "http://localhost:" + port + "/"})
	wantRefusal(t, "http.status to localhost", status, errText, "loopback")
	for _, addr := range []string{srv.Listener.Addr().String(), closedPort(t)} {
		status, errText = runOne(t, s, "tcp.connect", map[string]string{"addr": addr})
		wantRefusal(t, "tcp.connect "+addr, status, errText, "refused to dial "+addr, "agents.destinations")
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback service got %d requests from an agent", n)
	}

	allowed := agentSession(t, t.TempDir(), loopbackAgents(t))
	if status, errText := runOne(t, allowed, "http.status", map[string]string{"url": srv.URL + "/"}); status != "pass" {
		t.Errorf("with loopback allowed: %s %s", status, errText)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("with loopback allowed the service got %d requests, want 1", n)
	}
}

// TestReachMCPRedirect (hole 1): the policy holds on every connection of an HTTP
// probe, so a redirect from an allowed destination to a refused one is refused. Tests
// can only serve on loopback, so the operator allows 127.0.0.1/32 and the redirect goes
// to 127.0.0.2 (Linux routes all of 127/8 to the loopback interface).
func TestReachMCPRedirect(t *testing.T) {
	target, inner := testnet.SecondLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "SecretAccessKey=wJalrXUtnFEMI") }))
	front := httptest.NewServer(http.RedirectHandler(target.URL+"/creds", http.StatusFound))
	defer front.Close()

	s := agentSession(t, t.TempDir(), agentConfig(t, "agents:\n  destinations: [127.0.0.1]\n"))
	status, errText := runOne(t, s, "http.status", map[string]string{"url": front.URL + "/"})
	wantRefusal(t, "redirect to 127.0.0.2", status, errText, "refused to dial "+target.Listener.Addr().String(), "agents.destinations")
	if n := inner.Load(); n != 0 {
		t.Errorf("the redirect's target got %d requests", n)
	}
}

// TestReachMCPContentParams (hole 1): contains= would read a body back one guess at a
// time; no configuration allows it for agents, not even with the destination allowed,
// and the service never sees the request. ca= and insecure= need the operator's values.
func TestReachMCPContentParams(t *testing.T) {
	srv, hits := secretServer(t)
	s := agentSession(t, t.TempDir(), loopbackAgents(t))
	status, errText := runOne(t, s, "http.status", map[string]string{"url": srv.URL + "/", "contains": `"SecretAccessKey":"w`})
	wantRefusal(t, "contains=", status, errText, "parameter contains", "would reveal the content", "heartbeat file")
	status, errText = runOne(t, s, "http.status", map[string]string{"url": srv.URL + "/", "insecure": "true"})
	wantRefusal(t, "insecure=", status, errText, `add "true" to agents.params.insecure`)
	status, errText = runOne(t, s, "tls.expiry", map[string]string{"addr": srv.Listener.Addr().String(), "ca": "/etc/passwd"})
	wantRefusal(t, "ca=", status, errText, `add "/etc/passwd" to agents.params.ca`)
	if n := hits.Load(); n != 0 {
		t.Errorf("refused runs reached the service %d times", n)
	}
}

// TestReachMCPQuestion (hole 1): a question's URL is the asker's words. Over MCP the
// loopback URL is refused, naming the setting; asked at the operator's terminal the
// same question runs.
func TestReachMCPQuestion(t *testing.T) {
	srv, hits := secretServer(t)
	config := agentConfig(t, "")
	question := "is " + srv.URL + "/healthz up?"
	s := agentSession(t, t.TempDir(), config)
	var ans agentAnswer
	if res := callJSON(t, s, "clanker_route_question", map[string]any{"question": question}, &ans); res.IsError || len(ans.Results) != 1 {
		t.Fatalf("route_question: %s %+v", resultText(res), ans)
	}
	wantRefusal(t, "route_question", ans.Results[0].Status, ans.Results[0].Error, "loopback", "agents.destinations", config)
	if n := hits.Load(); n != 0 {
		t.Errorf("the question over MCP reached the service %d times", n)
	}

	// (Another state directory: the MCP server holds the first one's database.)
	r := cli(t, t.TempDir(), "--config", config, "ask", question)
	if r.code != 0 || hits.Load() != 1 {
		t.Errorf("ask at the terminal: exit %d, %d requests\n%s%s", r.code, hits.Load(), r.stdout, r.stderr)
	}
}

// TestReachMCPCloudParams (hole 2): endpoint= would send the operator's SigV4-signed
// requests (access key id, session token) to the agent's host; profile= and context=
// would pick credentials. From agents each is refused, over clanker_run_command and
// clankerd_propose_plan, and the host gets nothing; the values the configuration
// allows are accepted.
func TestReachMCPCloudParams(t *testing.T) {
	var signed atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), "Credential=") {
			signed.Add(1)
		}
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer collector.Close()
	for k, v := range awstest.Env {
		t.Setenv(k, v)
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	aws, kube := providerLinked(t, "AWS"), providerLinked(t, "Kubernetes")
	if !aws && !kube {
		t.Skip("this build links neither AWS nor Kubernetes")
	}

	s := agentSession(t, t.TempDir(), agentConfig(t, ""))
	if aws {
		status, errText := runOne(t, s, "aws.ec2.sg.open", map[string]string{"endpoint": collector.URL})
		wantRefusal(t, "endpoint=", status, errText, "parameter endpoint", "add \""+collector.URL+"\" to agents.params.endpoint")
		status, errText = runOne(t, s, "aws.ec2.sg.open", map[string]string{"profile": "admin"})
		wantRefusal(t, "profile=", status, errText, `add "admin" to agents.params.profile`)
		res, err := s.CallTool(t.Context(), &mcp.CallToolParams{Name: "clankerd_propose_plan", Arguments: map[string]any{
			"task": "aws.ec2.instance.stop", "params": map[string]string{"instance": "i-0123456789abcdef0", "endpoint": collector.URL}}})
		if err != nil || !res.IsError || !strings.Contains(resultText(res), "agents.params.endpoint") {
			t.Errorf("propose_plan with endpoint=: %v %+v", err, res)
		}
		if n := signed.Load(); n != 0 {
			t.Errorf("%d signed requests reached the agent's endpoint", n)
		}
	}
	if kube {
		status, errText := runOne(t, s, "k8s.pods.unhealthy", map[string]string{"context": "prod-admin"})
		wantRefusal(t, "context=", status, errText, `add "prod-admin" to agents.params.context`)
	}

	allowed := agentSession(t, t.TempDir(), agentConfig(t, fmt.Sprintf("agents:\n  params:\n    endpoint: [%q]\n    profile: [readonly]\n    context: [kind-dev]\n", collector.URL)))
	for _, call := range []struct {
		provider bool
		check    string
		params   map[string]string
	}{
		{aws, "aws.ec2.sg.open", map[string]string{"endpoint": collector.URL}},
		{aws, "aws.ec2.sg.open", map[string]string{"profile": "readonly"}},
		{kube, "k8s.pods.unhealthy", map[string]string{"context": "kind-dev"}},
	} {
		if !call.provider {
			continue
		}
		if _, errText := runOne(t, allowed, call.check, call.params); strings.Contains(errText, "refused for an agent") {
			t.Errorf("%s %v allowed by the configuration: %s", call.check, call.params, errText)
		}
	}
	if aws && signed.Load() == 0 {
		t.Error("the allowed endpoint got no request")
	}
}

// TestReachCAFile (hole 3): ca=/dev/zero used to read without end until the process
// ran out of memory, in `clankerd check` and in the daemon at every tick. Now the item
// is an error receipt with the one ca= error text, and the daemon keeps running.
func TestReachCAFile(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	const caError = "ca: cannot use this file as a CA bundle: give a regular PEM file of at most 1 MiB readable by you"
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 1 seconds\n- `tls.expiry` addr=%s ca=/dev/zero\n- `http.status` url=https://%s/ ca=%s\n", closedPort(t), closedPort(t), dir))
	r := cli(t, state, "check", hb, "-o", "json")
	if r.code != 2 || strings.Count(r.stdout, caError) != 2 {
		t.Errorf("check: exit %d, want 2 with the ca= error twice\n%s%s", r.code, r.stdout, r.stderr)
	}

	daemonState := t.TempDir()
	startDaemon(t, daemonState, "--heartbeat", hb)
	var out struct {
		Runs []struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"runs"`
	}
	waitFor(t, 30*time.Second, "two ticks of the daemon with ca=/dev/zero", func() bool {
		jsonOut(t, daemonState, 0, &out, "runs", "--limit", "0")
		return len(out.Runs) >= 4
	})
	for _, run := range out.Runs {
		if run.Status != "error" || run.Error != caError {
			t.Errorf("daemon run: %s %q", run.Status, run.Error)
		}
	}
	if r := cli(t, daemonState, "status"); r.code != 0 {
		t.Errorf("the daemon is not answering after the ticks: %+v", r)
	}
}
