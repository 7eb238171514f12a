package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/redact"
	"github.com/clankerd/clankerd/internal/testenv/awstest"
	"github.com/clankerd/clankerd/internal/view"
)

// The secrets planted in the inputs of TestRedactionEndToEnd, one set per way in. Each
// is a literal no output may hold, in any letter case (the router lowercases questions).
const (
	// The finding: an http.status item's URL carries a password and an API key...
	urlPassword = "pw-hunter2-9d41e7"
	urlAPIKey   = "qk-5c8e21b7a0f94d36"
	// ...and its server answers with a bearer token and an access key id in a header
	// line the HTTP client quotes in its error.
	serverBearer = "tkFind7f3a9c2e51d84b06"
	serverKeyID  = "AKIAFINDINGSERVER001"
	// The receipt error: the AWS access key id of the environment, which the AWS
	// endpoint quotes back when it refuses the request.
	envKeyID = "AKIARECEIPTERROR0002"
	// The plan: the file test.file.set reads holds an access key id (observed state,
	// change), the content it would write a bearer token (params, change).
	fileKeyID   = "AKIAPLANOBSERVED0003"
	planBearer  = "tkPlan0c1d2e3f4a5b69"
	planContent = "Authorization: Bearer " + planBearer
	// The question: a URL with an API key in its query.
	questionAPIKey = "qa-1b2c3d4e5f607182"
)

var plantedSecrets = []struct{ what, value string }{
	{"the password in the item's URL", urlPassword},
	{"the api_key in the item's URL", urlAPIKey},
	{"the bearer token the server answered", serverBearer},
	{"the access key id the server answered", serverKeyID},
	{"the access key id AWS quoted in the receipt error", envKeyID},
	{"the access key id in the plan's observed file", fileKeyID},
	{"the bearer token in the plan's params", planBearer},
	{"the api_key in the question", questionAPIKey},
}

// What the secrets look like once redacted: each surface shows some of these, so that
// a surface cannot pass by leaving the field out.
var (
	maskedURL      = "http://" + redact.Mask + "@"
	maskedAPIKey   = "api_key=" + redact.Mask
	maskedBearer   = "Bearer " + redact.Mask
	maskedCred     = "Credential=" + redact.Mask
	maskedObserved = "aws_access_key_id = " + redact.Mask
)

// assertRedacted fails the test when out holds a planted secret, quoting the surface
// and the text around the leak. Where nothing leaked, out must show every one of want
// (masked forms, or the start of a field a table cuts short), so that a surface cannot
// pass by leaving the field out.
func assertRedacted(t *testing.T, surface, out string, want ...string) {
	t.Helper()
	lower, leaked := strings.ToLower(out), false
	for _, s := range plantedSecrets {
		i := strings.Index(lower, strings.ToLower(s.value))
		if i < 0 {
			continue
		}
		leaked = true
		around := out[max(0, i-60):min(len(out), i+len(s.value)+30)]
		t.Errorf("%s leaks %s (%d times): …%s…", surface, s.what, strings.Count(lower, strings.ToLower(s.value)), view.OneLine(around, 0))
	}
	for _, w := range want {
		if !leaked && !strings.Contains(out, w) {
			t.Errorf("%s does not show %q: the field is missing or not redacted:\n%.2000s", surface, w, out)
		}
	}
}

// leakyServer answers 500 with a header line a debugging proxy might write, holding
// a bearer token and an access key id; net/http quotes the malformed line in its error,
// which http.status puts in the finding's summary and evidence.
func leakyServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n[debug] Authorization: Bearer %s (key %s)\r\n\r\n", serverBearer, serverKeyID)
		buf.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// refusingAWS answers every EC2 call with IncompleteSignature, quoting the credential
// of the request's Authorization header (access key id included), as AWS does.
func refusingAWS(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, cred, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
		cred, _, _ = strings.Cut(cred, ",")
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>IncompleteSignature</Code><Message>Credential=%s: the request lacks a signed date</Message></Error></Errors><RequestID>7e1c</RequestID></Response>`, cred)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// notifySinks are a target of each type, each recording what it was given: a webhook
// and a Slack-compatible receiver, a command that appends its arguments, clankerd's
// variables and its stdin to a file, and a notify-send, first in the daemon's PATH,
// that appends its arguments to another.
type notifySinks struct {
	config, bin            string
	hook, slack            *hookReceiver
	commandLog, desktopLog string
}

func newNotifySinks(t *testing.T, dir string) *notifySinks {
	t.Helper()
	n := &notifySinks{
		config: filepath.Join(dir, "notify.yaml"), bin: filepath.Join(dir, "bin"),
		hook: newHookReceiver(t, ""), slack: newHookReceiver(t, ""),
		commandLog: filepath.Join(dir, "command.log"), desktopLog: filepath.Join(dir, "desktop.log"),
	}
	if err := os.Mkdir(n.bin, 0o700); err != nil {
		t.Fatal(err)
	}
	pager := filepath.Join(n.bin, "pager")
	writeScript(t, pager, fmt.Sprintf("{ echo \"args: $*\"; env | grep '^CLANKERD_'; cat; echo; } >>%q\n", n.commandLog))
	writeScript(t, filepath.Join(n.bin, "notify-send"), fmt.Sprintf("printf '%%s\\n' \"$@\" >>%q\n", n.desktopLog))
	writeFile(t, n.config, fmt.Sprintf(`delivery:
  retry_initial: 100ms
  retry_max: 500ms
targets:
  - name: hook
    type: webhook
    url: %s/hook
  - name: chat
    type: slack
    url: %s/services/T0/B0/X
  - name: pager
    type: command
    command: [%s, --team, ops]
  - name: me
    type: desktop
`, n.hook.URL, n.slack.URL, pager))
	return n
}

// received is what each target was given, by surface: the webhook's JSON bodies, the
// Slack texts, the command target's input and notify-send's arguments.
func (n *notifySinks) received() map[string]string {
	_, hooks, _, _ := n.hook.state()
	b, _ := json.Marshal(hooks)
	_, slacks, _, _ := n.slack.state()
	var texts []string
	for _, b := range slacks {
		texts = append(texts, fmt.Sprint(b["text"]))
	}
	return map[string]string{
		"webhook JSON":           string(b),
		"Slack text":             strings.Join(texts, "\n"),
		"command target's input": readFileString(n.commandLog),
		"notify-send arguments":  readFileString(n.desktopLog),
	}
}

// sweep looks at what every target received, each in its own subtest.
func (n *notifySinks) sweep(t *testing.T, want ...string) {
	for surface, out := range n.received() {
		t.Run("notify/"+surface, func(t *testing.T) { assertRedacted(t, surface, out, want...) })
	}
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
}

// readFileString returns a file's content, or "" when it cannot be read (a fake
// program that never ran).
func readFileString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// mcpCall is one MCP tool call and what its structured and text content must show.
type mcpCall struct {
	tool             string
	args             map[string]any
	structured, text []string
}

// sweepMCP calls each tool through the SDK client against `clankerd mcp` at debug
// level, sweeping the structured and the text content of each answer and the server's
// log, and returns the id of the plan clankerd_propose_plan queued.
func sweepMCP(t *testing.T, state string, calls []mcpCall) (planID string) {
	t.Helper()
	var stderr syncBuffer
	session := stdioSessionTo(t, &stderr, "--state-dir", state, "--config", loopbackAgents(t), "--log-level", "debug", "mcp")
	for _, c := range calls {
		res := callJSON(t, session, c.tool, c.args, nil)
		if res.IsError {
			t.Errorf("%s: %s", c.tool, resultText(res))
		}
		structured, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("mcp/"+c.tool+"/structured", func(t *testing.T) {
			assertRedacted(t, c.tool+" structured content", string(structured), c.structured...)
		})
		t.Run("mcp/"+c.tool+"/text", func(t *testing.T) { assertRedacted(t, c.tool+" text content", resultText(res), c.text...) })
		if c.tool == "clankerd_propose_plan" {
			var p struct{ ID string }
			if err := json.Unmarshal(structured, &p); err != nil || p.ID == "" {
				t.Fatalf("clankerd_propose_plan returned no plan: %v %s", err, structured)
			}
			planID = p.ID
		}
	}
	if err := session.Close(); err != nil {
		t.Errorf("closing the MCP session: %v", err)
	}
	t.Run("mcp/stderr", func(t *testing.T) { assertRedacted(t, "stderr of clankerd mcp", stderr.String()) })
	return planID
}

// cliSurface is one CLI command whose stdout and stderr are swept.
type cliSurface struct {
	name string
	args []string
	code int
	want []string
}

// sweepCLI runs each command at debug level, in a subtest named after the surface:
// PREFIX/NAME for its output, PREFIX/NAME/stderr for its log.
func sweepCLI(t *testing.T, env []string, state, prefix string, surfaces []cliSurface) {
	t.Helper()
	for _, s := range surfaces {
		t.Run(prefix+"/"+s.name, func(t *testing.T) {
			r := cliEnv(t, env, state, append([]string{"--log-level", "debug"}, s.args...)...)
			if r.code != s.code {
				t.Errorf("clankerd %v: exit %d, want %d\n%s", s.args, r.code, s.code, r.stderr)
			}
			assertRedacted(t, "clankerd "+strings.Join(s.args, " "), r.stdout, s.want...)
			t.Run("stderr", func(t *testing.T) { assertRedacted(t, "stderr of clankerd "+strings.Join(s.args, " "), r.stderr) })
		})
	}
}

// TestRedactionEndToEnd plants secrets in one finding, one plan, one receipt error
// and one question, and sweeps every output of the built binary for them: the CLI in
// text, JSON and JUnit (through the daemon's control socket and without a daemon),
// every MCP tool, every notification format, and the logs at debug level.
func TestRedactionEndToEnd(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	leaky, aws := leakyServer(t), refusingAWS(t)
	sinks := newNotifySinks(t, dir)
	env := []string{
		"PATH=" + sinks.bin + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	for k, v := range awstest.Env {
		env = append(env, k+"="+v)
	}
	env = append(env, "AWS_ACCESS_KEY_ID="+envKeyID, "AWS_ENDPOINT_URL="+aws.URL)

	target := filepath.Join(dir, "credentials.txt")
	writeFile(t, target, "aws_access_key_id = "+fileKeyID)
	secretURL := strings.Replace(leaky.URL, "http://", "http://admin:"+urlPassword+"@", 1) + "/health?api_key=" + urlAPIKey
	question := fmt.Sprintf("is %s/health?api_key=%s up?", leaky.URL, questionAPIKey)
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeHeartbeat := func(schedule string) {
		writeFile(t, hb, fmt.Sprintf("---\naws_region: us-east-1\n---\n## %s\n- `http.status` url=%s\n- `aws.ec2.sg.open`\n\n## Tasks %s\n- `test.file.set` path=%s content=%q\n",
			schedule, secretURL, strings.ToLower(schedule[:1])+schedule[1:], target, planContent))
	}
	writeHeartbeat("Every 1 second")

	d := startDaemonEnv(t, env, state, "--heartbeat", hb, "--notify-config", sinks.config)
	status := func() control.Status {
		var st control.Status
		r := cliEnv(t, env, state, "status", "-o", "json")
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("status: %v\n%s", err, r.stdout)
		}
		return st
	}
	waitFor(t, 30*time.Second, "the daemon's first finding, receipt error and plan", func() bool {
		st := status()
		last := map[string]string{}
		for _, it := range st.Items {
			last[it.Check] = string(it.LastStatus)
		}
		return last["http.status"] == "fail" && last["aws.ec2.sg.open"] == "error" && st.PendingPlans == 1
	})
	// From now on only the commands below run anything, so that every surface sees
	// the same state: the daemon's next runs are half a day away.
	writeHeartbeat(fmt.Sprintf("Daily at %02d:00", (time.Now().Hour()+12)%24))
	waitFor(t, 30*time.Second, "the daemon to reload the heartbeat and finish its runs", func() bool {
		for _, it := range status().Items {
			if it.Running || strings.HasPrefix(it.Pos, hb) && time.Until(it.Next) < time.Hour {
				return false
			}
		}
		return true
	})

	planID := sweepMCP(t, state, []mcpCall{
		{"clanker_version", nil, nil, nil},
		{"clanker_route_question", map[string]any{"question": question}, []string{maskedAPIKey, maskedBearer}, []string{maskedBearer}},
		{"clanker_run_command", map[string]any{"check": "http.status", "params": map[string]string{"url": secretURL}},
			[]string{maskedURL, maskedAPIKey, maskedBearer}, []string{maskedURL, maskedAPIKey, maskedBearer}},
		{"clankerd_findings", map[string]any{"state": "all"}, []string{maskedURL, maskedAPIKey, maskedBearer}, nil},
		{"clankerd_plans", map[string]any{"state": "pending"}, []string{maskedObserved, maskedBearer}, nil},
		{"clankerd_propose_plan", map[string]any{"task": "test.file.set", "params": map[string]string{"path": target, "content": planContent}},
			[]string{maskedObserved, maskedBearer}, []string{maskedObserved, maskedBearer}},
	})

	// Text tables cut the receipt error short of its secret; they must still show it.
	errorStart := "ec2:DescribeSecurityGroups in us-east-1"
	findingWant := []string{maskedURL, maskedAPIKey, maskedBearer}
	checkWant := []string{maskedURL, maskedAPIKey, maskedBearer, maskedCred}
	planWant := []string{maskedObserved, maskedBearer}
	surfaces := []cliSurface{
		{"check/text", []string{"check", hb}, 1, checkWant},
		{"check/json", []string{"check", hb, "-o", "json"}, 1, checkWant},
		{"check/junit", []string{"check", hb, "-o", "junit"}, 1, checkWant},
		{"ask/text", []string{"ask", question}, 1, []string{maskedBearer}},
		{"ask/json", []string{"ask", question, "-o", "json"}, 1, []string{maskedAPIKey, maskedBearer}},
		{"ask/findings", []string{"ask", question, "-o", "findings"}, 1, []string{maskedAPIKey, maskedBearer}},
		// A URL with userinfo in the question reaches the probe whole (the router keeps
		// URLs as one word), and its password shows nowhere.
		{"ask/credentials-in-question", []string{"ask", strings.Replace(question, "http://", "http://admin:"+urlPassword+"@", 1), "-o", "json"}, 1, []string{maskedURL, maskedAPIKey}},
		{"findings/text", []string{"findings", "--state", "all"}, 0, []string{maskedURL, maskedAPIKey}},
		{"findings/json", []string{"findings", "--state", "all", "-o", "json"}, 0, findingWant},
		{"diff/text", []string{"diff"}, 0, []string{maskedURL, maskedAPIKey}},
		{"diff/json", []string{"diff", "-o", "json"}, 0, findingWant},
		{"runs/text", []string{"runs", "--limit", "0"}, 0, []string{errorStart}},
		{"runs/json", []string{"runs", "--limit", "0", "-o", "json"}, 0, []string{maskedCred}},
		{"plans/text", []string{"plans"}, 0, []string{maskedObserved}},
		{"plans/json", []string{"plans", "-o", "json"}, 0, planWant},
		{"plan-show/text", []string{"plan", "show", planID}, 0, planWant},
		{"plan-show/json", []string{"plan", "show", planID, "-o", "json"}, 0, planWant},
		{"status/text", []string{"status"}, 0, []string{errorStart}},
		{"status/json", []string{"status", "-o", "json"}, 0, []string{maskedCred}},
	}
	sweepCLI(t, env, state, "cli/daemon", surfaces)

	// Every run and plan above has been recorded: once the outbox is empty, every
	// target has had all the news.
	waitFor(t, 30*time.Second, "every notification delivered to every target", func() bool {
		st := status()
		delivering := 0
		for _, tg := range st.Targets {
			if tg.Delivered > 0 {
				delivering++
			}
		}
		return st.OutboxDepth == 0 && delivering == 4
	})
	sinks.sweep(t, maskedURL, maskedAPIKey, maskedBearer, maskedCred, maskedObserved)

	d.stop(t, syscall.SIGTERM, 20*time.Second)
	t.Run("log/daemon", func(t *testing.T) { assertRedacted(t, "daemon log", d.logs.String()) })

	// Without the daemon the CLI reads and writes the database itself.
	sweepCLI(t, env, state, "cli/local", surfaces)
}
