package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/notify"
)

// hookReceiver is a real webhook endpoint: it verifies signatures, can be told to
// fail, and counts what it accepted by idempotency key.
type hookReceiver struct {
	*httptest.Server
	secret []byte

	mu   sync.Mutex
	down bool
	// hold makes the receiver accept a notification and then not answer until the
	// client goes away, as a receiver that processed it while the sender crashed.
	hold     bool
	attempts int
	accepted map[string]int
	bodies   []map[string]any
	problems []string
	// signed is every request that carried a signature, accepted or not.
	signed []signedRequest
}

type signedRequest struct {
	header http.Header
	body   []byte
}

// signedWith reports whether any request the receiver saw was signed with secret.
func (r *hookReceiver) signedWith(secret string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.signed {
		if notify.VerifySignature([]byte(secret), s.body, s.header, time.Now()) == nil {
			return true
		}
	}
	return false
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	t.Helper()
	r := &hookReceiver{secret: []byte(secret), accepted: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.attempts++
		if r.down {
			http.Error(w, "receiver down", http.StatusServiceUnavailable)
			return
		}
		if req.Header.Get(notify.SignatureHeader) != "" {
			r.signed = append(r.signed, signedRequest{header: req.Header.Clone(), body: body})
		}
		if len(r.secret) > 0 && notify.VerifySignature(r.secret, body, req.Header, time.Now()) != nil {
			r.problems = append(r.problems, "bad signature")
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			r.problems = append(r.problems, "not JSON: "+string(body))
		}
		key := req.Header.Get(notify.IdempotencyHeader)
		if k, ok := m["idempotency_key"]; ok && k != key {
			r.problems = append(r.problems, fmt.Sprintf("header key %q, body key %q", key, k))
		}
		r.accepted[key]++
		r.bodies = append(r.bodies, m)
		if r.hold {
			r.mu.Unlock()
			<-req.Context().Done()
			r.mu.Lock()
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

func (r *hookReceiver) setHold(hold bool) {
	r.mu.Lock()
	r.hold = hold
	r.mu.Unlock()
}

func (r *hookReceiver) state() (accepted map[string]int, bodies []map[string]any, attempts int, problems []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	accepted = map[string]int{}
	for k, v := range r.accepted {
		accepted[k] = v
	}
	return accepted, append([]map[string]any(nil), r.bodies...), r.attempts, append([]string(nil), r.problems...)
}

func TestNotifyTestCommand(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	hook, slack := newHookReceiver(t, "s3cret"), newHookReceiver(t, "")
	cfg := filepath.Join(dir, "notify.yaml")
	writeFile(t, cfg, fmt.Sprintf("targets:\n  - name: ops\n    type: webhook\n    url: %s/hook/TOKEN123\n    secret_env: TEST_HOOK_SECRET\n", hook.URL))
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, "---\nnotify:\n  - name: team\n    type: slack\n    url_env: CLANKERD_TEST_SLACK_URL\n---\n## Hourly\n- `tcp.connect` addr=127.0.0.1:9\n")
	env := []string{"TEST_HOOK_SECRET=s3cret", "CLANKERD_TEST_SLACK_URL=" + slack.URL + "/services/T0/B0/TOKEN456"}

	r := cliEnv(t, env, state, "notify", "test", "--notify-config", cfg, "--heartbeat", hb)
	if r.code != 0 || !strings.Contains(r.stdout, "ops (webhook, http://127.0.0.1:") || !strings.Contains(r.stdout, "(signed)): delivered") || !strings.Contains(r.stdout, "team (slack,") {
		t.Fatalf("notify test: %+v", r)
	}
	if strings.Contains(r.stdout+r.stderr, "TOKEN") || strings.Contains(r.stdout+r.stderr, "s3cret") {
		t.Errorf("notify test printed a secret: %+v", r)
	}
	if a, bodies, _, problems := hook.state(); len(a) != 1 || len(problems) > 0 || bodies[0]["kind"] != "test" {
		t.Errorf("webhook receiver: %v %v %v", a, bodies, problems)
	}
	if _, bodies, _, _ := slack.state(); len(bodies) != 1 || !strings.Contains(fmt.Sprint(bodies[0]["text"]), "test notification") {
		t.Errorf("slack receiver: %v", bodies)
	}

	// One target; a failing one; an unknown one; a missing secret.
	hook.setDown(true)
	if r := cliEnv(t, env, state, "notify", "test", "ops", "--notify-config", cfg, "--heartbeat", hb); r.code != 2 || !strings.Contains(r.stdout, "ops (webhook") || !strings.Contains(r.stdout, "HTTP 503") || strings.Contains(r.stdout, "team") {
		t.Errorf("notify test ops while it is down: %+v", r)
	}
	if r := cliEnv(t, env, state, "notify", "test", "pager", "--notify-config", cfg, "--heartbeat", hb); r.code != 3 || !strings.Contains(r.stderr, `no target "pager"; the targets are: ops, team`) {
		t.Errorf("notify test of an unknown target: %+v", r)
	}
	if r := cli(t, state, "notify", "test", "--notify-config", cfg, "--heartbeat", hb); r.code != 3 || !strings.Contains(r.stderr, cfg+":5: secret_env: $TEST_HOOK_SECRET is empty or not set") {
		t.Errorf("notify test without the secret: %+v", r)
	}
}

func TestLintChecksNotifyFrontMatter(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	// The variable is not set here: lint checks the structure, not the environment.
	writeFile(t, hb, "---\nnotify:\n  - name: team\n    type: slack\n    url_env: CLANKERD_UNSET_IN_THIS_TEST\n---\n## Hourly\n- `tcp.connect` addr=127.0.0.1:9\n")
	if r := cli(t, state, "lint", hb); r.code != 0 || !strings.Contains(r.stdout, "valid") {
		t.Errorf("lint of good notify front matter: %+v", r)
	}
	writeFile(t, hb, "---\nnotify:\n  - name: team\n    type: slack\n    min_severity: loud\n---\n## Hourly\n- `tcp.connect` addr=127.0.0.1:9\n")
	r := cli(t, state, "lint", hb)
	for _, want := range []string{hb + ":3: url: a slack target needs url or url_env", hb + `:5: min_severity: unknown severity "loud"`, "2 problem(s) in notification targets"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("lint stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.code != 3 {
		t.Errorf("lint of broken notify front matter exit %d, want 3", r.code)
	}
}

func TestDaemonNotifiesOnChange(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	hook := newHookReceiver(t, "s3cret")
	hook.setDown(true)
	cfg := filepath.Join(dir, "notify.yaml")
	writeFile(t, cfg, fmt.Sprintf("delivery:\n  retry_initial: 100ms\n  retry_max: 500ms\ntargets:\n  - name: ops\n    type: webhook\n    url: %s/hook\n    secret_env: TEST_HOOK_SECRET\n", hook.URL))
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s timeout=1s\n", closedPort(t)))
	d := startDaemonEnv(t, []string{"TEST_HOOK_SECRET=s3cret"}, state, "--heartbeat", hb, "--notify-config", cfg)

	// The receiver is down: the news waits in the outbox and status says why.
	waitFor(t, 20*time.Second, "failed deliveries in status", func() bool {
		var st control.Status
		jsonOut(t, state, 0, &st, "status")
		return st.OutboxDepth >= 1 && len(st.Targets) == 1 && strings.Contains(st.Targets[0].LastError, "HTTP 503")
	})
	if r := cli(t, state, "status"); !strings.Contains(r.stdout, "notifications: 1 waiting in the outbox") || !strings.Contains(r.stdout, "ops: 0 delivered") || !strings.Contains(r.stdout, "HTTP 503") {
		t.Errorf("status text:\n%s", r.stdout)
	}

	hook.setDown(false)
	waitFor(t, 20*time.Second, "the delivery after the receiver recovered", func() bool {
		a, _, _, _ := hook.state()
		return len(a) == 1
	})
	// Runs go on every second with the same finding: no further news.
	var runs struct{ Runs []struct{ Status string } }
	waitFor(t, 20*time.Second, "more runs", func() bool {
		jsonOut(t, state, 0, &runs, "runs", "--limit", "0")
		return len(runs.Runs) >= 4
	})
	accepted, bodies, _, problems := hook.state()
	if len(problems) > 0 || len(accepted) != 1 {
		t.Errorf("receiver: accepted %v, problems %v", accepted, problems)
	}
	for k, n := range accepted {
		if n != 1 {
			t.Errorf("key %s accepted %d times", k, n)
		}
	}
	fs, _ := bodies[0]["findings"].([]any)
	if bodies[0]["kind"] != "run" || bodies[0]["check"] != "tcp.connect" || len(fs) != 1 {
		t.Errorf("notification = %v", bodies[0])
	}
	var st control.Status
	jsonOut(t, state, 0, &st, "status")
	if st.OutboxDepth != 0 || st.Targets[0].Delivered != 1 || st.Daemon == nil || len(st.Daemon.Targets) != 1 || strings.Contains(fmt.Sprint(st.Daemon.Targets), "/hook") {
		t.Errorf("status after delivery = %+v, daemon %+v", st, st.Daemon)
	}
	d.stop(t, syscall.SIGTERM, 20*time.Second)
}

// Issue 12, hole 8: a shared heartbeat file named DB_PASSWORD as secret_env and its
// author's URL as the webhook, and received an HMAC made with the password, to crack
// offline. The file may only name CLANKERD_ variables, or a notify.yaml target.
func TestSharedHeartbeatCannotSignWithAnyVariable(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	attacker := newHookReceiver(t, "")
	team := newHookReceiver(t, "clankerd-secret")
	ops := newHookReceiver(t, "ops-secret")
	cfg := filepath.Join(dir, "notify.yaml")
	writeFile(t, cfg, fmt.Sprintf("delivery:\n  retry_initial: 100ms\n  retry_max: 500ms\ntargets:\n"+
		"  - name: ops\n    type: webhook\n    url: %s/ops\n    secret_env: OPS_SECRET\n    scope: named\n", ops.URL))
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("---\nnotify:\n"+
		"  - name: leak\n    type: webhook\n    url: %s/collect\n    secret_env: DB_PASSWORD\n"+
		"  - name: team\n    type: webhook\n    url: %s/team\n    secret_env: CLANKERD_WEBHOOK_SECRET\n"+
		"  - ops\n"+
		"---\n## Every 1 second\n- `tcp.connect` addr=%s timeout=1s\n", attacker.URL, team.URL, closedPort(t)))
	env := []string{"DB_PASSWORD=summer2024", "CLANKERD_WEBHOOK_SECRET=clankerd-secret", "OPS_SECRET=ops-secret"}

	r := cliEnv(t, env, state, "lint", hb)
	want := hb + ":6: secret_env: a heartbeat file, which may be shared, may only name variables starting with CLANKERD_; rename $DB_PASSWORD to CLANKERD_DB_PASSWORD, or define the target in notify.yaml and name it here"
	if r.code != 3 || !strings.Contains(r.stderr, want) {
		t.Errorf("lint of the file: exit %d, want 3 and %q:\n%s", r.code, want, r.stderr)
	}

	startDaemonEnv(t, env, state, "--heartbeat", hb, "--notify-config", cfg)
	waitFor(t, 20*time.Second, "the news at the CLANKERD_ target and at the notify.yaml target the file names", func() bool {
		t1, _, _, _ := team.state()
		t2, _, _, _ := ops.state()
		return len(t1) == 1 && len(t2) == 1
	})
	if _, _, attempts, _ := attacker.state(); attempts != 0 || attacker.signedWith("summer2024") {
		t.Errorf("the attacker's receiver got %d requests (signed with DB_PASSWORD: %v)", attempts, attacker.signedWith("summer2024"))
	}
	for name, rcv := range map[string]*hookReceiver{"team": team, "ops": ops} {
		if _, _, _, problems := rcv.state(); len(problems) > 0 {
			t.Errorf("%s receiver: %v", name, problems)
		}
	}
	var st control.Status
	jsonOut(t, state, 0, &st, "status")
	if st.Daemon == nil || !strings.Contains(strings.Join(st.Daemon.LoadErrors, "\n"), hb+":6: secret_env: a heartbeat file") {
		t.Errorf("status does not say why the target is left out: %+v", st.Daemon)
	}
}
