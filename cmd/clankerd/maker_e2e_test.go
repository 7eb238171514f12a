package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/store"
)

// makerQuestion asks test.file.set to write content to a new target file holding
// "v1"; it returns the question and the target.
func makerQuestion(t *testing.T, content string) (question, target string) {
	t.Helper()
	target = filepath.Join(t.TempDir(), "target.txt")
	writeFile(t, target, "v1")
	return "set the test file path=" + target + " content=" + content, target
}

// writePolicy writes an approvals policy of one rule for test.file.set plans of low
// risk on target (a pattern), with extra lines (params:) added to the rule.
func writePolicy(t *testing.T, path, name, target, expires, extra string) {
	t.Helper()
	writeFile(t, path, "rules:\n  - name: "+name+"\n    task: test.file.set\n    target: \""+target+"\"\n"+extra+
		"    max_risk: low\n    expires: "+expires+"\n    reason: the e2e tests\n")
}

// askAtTerminal starts `clankerd ask QUESTION --maker` with a pseudo-terminal as its
// stdin and waits for its approval prompt; it returns the keyboard, the outputs and
// the command to wait for.
func askAtTerminal(t *testing.T, state, question string) (keyboard *os.File, stdout, stderr *syncBuffer, cmd *exec.Cmd) {
	t.Helper()
	keyboard, tty := openPty(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	cmd = exec.CommandContext(ctx, binary, "--state-dir", state, "ask", question, "--maker")
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "ask's approval prompt", func() bool { return strings.Contains(stderr.String(), "Approve? [y/N]") })
	return keyboard, stdout, stderr, cmd
}

// TestAskMakerApprovedAtTerminal: a change asked with --maker at a terminal is queued,
// shown, and a y applies it through the approve path, audited as the user.
func TestAskMakerApprovedAtTerminal(t *testing.T) {
	state := t.TempDir()
	question, target := makerQuestion(t, "NEW")
	keyboard, stdout, stderr, cmd := askAtTerminal(t, state, question)
	if !strings.Contains(stdout.String(), `"NEW"`) || !strings.Contains(stdout.String(), "queued plan") {
		t.Fatalf("ask did not show the plan it asks about:\n%s", stdout.String())
	}
	if _, err := keyboard.Write([]byte("y\n")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ask --maker answered y: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if data, _ := os.ReadFile(target); string(data) != "NEW" || !strings.Contains(stdout.String(), "applied: wrote") {
		t.Fatalf("target %q after y; stdout:\n%s", data, stdout.String())
	}
	audit := auditRecords(t, state)
	if n := len(audit); n != 4 || audit[1].Action != "plan.approved" || audit[1].Actor != control.UserName(os.Getuid()) {
		t.Errorf("audit of the approval at the terminal: %+v", audit)
	}
}

// TestAskMakerDriftRefused: the target changes while ask waits at its prompt; y is
// refused as stale (exit 4) and the change is not made.
func TestAskMakerDriftRefused(t *testing.T) {
	state := t.TempDir()
	question, target := makerQuestion(t, "NEW")
	keyboard, stdout, stderr, cmd := askAtTerminal(t, state, question)
	writeFile(t, target, "DRIFT")
	if _, err := keyboard.Write([]byte("y\n")); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitRefused || !strings.Contains(stderr.String(), "stale") {
		t.Errorf("y on a drifted plan: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if data, _ := os.ReadFile(target); string(data) != "DRIFT" {
		t.Errorf("a drifted plan was applied: target %q", data)
	}
}

// TestAskMakerApplyByPolicy: --maker --apply applies a plan only when a rule of the
// approvals policy matches it, audited with the rule's name; no policy, no matching
// rule, an expired rule and a policy others can write are refused and change nothing.
// Asking again while the plan is pending returns that plan.
func TestAskMakerApplyByPolicy(t *testing.T) {
	dir := t.TempDir()
	policy := func(name, target, expires string, mode os.FileMode) string {
		path := filepath.Join(dir, name+".yaml")
		writePolicy(t, path, name, target, expires, "    params:\n      content: {values: [NEW]}\n")
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	state := t.TempDir()
	question, target := makerQuestion(t, "NEW")
	matching := "file/" + filepath.Dir(target) + "/*"
	tests := []struct {
		name, approvals string
		code            int
		says            string
	}{
		{"no policy", filepath.Join(dir, "none.yaml"), exitRefused, "a rule would need task: test.file.set"},
		{"another target", policy("elsewhere", "file//nowhere/*", "2099-01-01", 0o600), exitRefused, `does not match "file//nowhere/*"`},
		{"expired", policy("expired", matching, "2020-01-01", 0o600), exitRefused, "expired 2020-01-01"},
		{"writable by others", policy("loose", matching, "2099-01-01", 0o666), exitBadInput, "chmod go-w"},
	}
	var planID string
	for _, tt := range tests {
		r := cli(t, state, "ask", question, "--maker", "--apply", "--approvals", tt.approvals)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.says) {
			t.Errorf("%s: exit %d, want %d saying %q\nstdout: %s\nstderr: %s", tt.name, r.code, tt.code, tt.says, r.stdout, r.stderr)
		}
		if data, _ := os.ReadFile(target); string(data) != "v1" {
			t.Fatalf("%s: the change was made: target %q", tt.name, data)
		}
		var out struct{ Plans []struct{ ID, State string } }
		jsonOut(t, state, 0, &out, "plans")
		plans := out.Plans
		if len(plans) != 1 || plans[0].State != "pending" || planID != "" && plans[0].ID != planID {
			t.Fatalf("%s: asking again made another plan: %+v", tt.name, plans)
		}
		planID = plans[0].ID
	}
	if r := cli(t, state, "policy", "check", planID, "--approvals", policy("files", matching, "2099-01-01", 0o644)); r.code != 0 || !strings.Contains(r.stdout, `matches rule "files"`) {
		t.Errorf("policy check: %+v", r)
	}
	r := cli(t, state, "ask", question, "--maker", "--apply", "--approvals", filepath.Join(dir, "files.yaml"))
	if data, _ := os.ReadFile(target); r.code != 0 || string(data) != "NEW" {
		t.Fatalf("a matching rule: exit %d, target %q\nstdout: %s\nstderr: %s", r.code, data, r.stdout, r.stderr)
	}
	audit := auditRecords(t, state)
	want := control.PolicyActor("files", control.UserName(os.Getuid()))
	approved := 0
	for _, rec := range audit {
		if rec.Subject == planID && rec.Action != "plan.created" {
			approved++
			if rec.Actor != want || rec.Detail["rule"] != "files" {
				t.Errorf("%s by %q, rule %q; want %q, files", rec.Action, rec.Actor, rec.Detail["rule"], want)
			}
		}
	}
	if approved != 3 {
		t.Errorf("%d audit records of the approval by policy, want 3: %+v", approved, audit)
	}
}

// TestApproveByPolicyOffTerminal: `clankerd approve ID --policy` needs no terminal and
// applies a queued plan a rule matches; without a match it refuses.
func TestApproveByPolicyOffTerminal(t *testing.T) {
	state := t.TempDir()
	hb, target := fileTask(t, "Tasks hourly", "NEW")
	id := queuePlan(t, state, hb)
	policy := filepath.Join(t.TempDir(), "approvals.yaml")
	writePolicy(t, policy, "ci", "file/"+filepath.Dir(target)+"/*", "2099-01-01", "")
	if r := cli(t, state, "approve", id, "--policy", "--approvals", policy+".none"); r.code != exitRefused {
		t.Errorf("approve --policy without a policy: %+v", r)
	}
	var plan struct{ State string }
	var out json.RawMessage
	jsonOut(t, state, 0, &out, "approve", id, "--policy", "--approvals", policy)
	if err := json.Unmarshal(out, &plan); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(target); string(data) != "NEW" || plan.State != "applied" {
		t.Errorf("approve --policy: target %q, plan %s", data, out)
	}
}

// auditRecords is the audit log as `clankerd audit -o json` shows it.
func auditRecords(t *testing.T, state string) []store.AuditRecord {
	t.Helper()
	var out struct{ Audit []store.AuditRecord }
	jsonOut(t, state, 0, &out, "audit")
	return out.Audit
}

// TestAskMakerApplyRefusesTheModelsPlan: a change the model routed is queued, but
// --apply does not approve it even when a rule matches: the model's words never
// approve.
func TestAskMakerApplyRefusesTheModelsPlan(t *testing.T) {
	_, target := makerQuestion(t, "NEW")
	ollama := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/api/chat" {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		args, _ := json.Marshal(map[string]string{"path": target, "content": "NEW"})
		fmt.Fprintf(w, `{"model":"tiny","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"test__file__set","arguments":%s}}]},"done":true}`+"\n", args)
	}))
	defer ollama.Close()
	policy := filepath.Join(t.TempDir(), "approvals.yaml")
	writePolicy(t, policy, "files", "file/"+filepath.Dir(target)+"/*", "2099-01-01", "")
	state := t.TempDir()
	r := cli(t, state, "ask", "please do the needful", "--model", "tiny", "--model-host", ollama.URL, "--maker", "--apply", "--approvals", policy)
	if r.code != exitRefused || !strings.Contains(r.stderr, "the model chose") {
		t.Errorf("--apply of the model's plan: %+v", r)
	}
	if data, _ := os.ReadFile(target); string(data) != "v1" {
		t.Errorf("the model's plan was applied: target %q", data)
	}
}

// TestAskMakerApplyThroughDaemon: with the daemon holding the state, --maker --apply
// approves through its socket: the approver it records is the rule on behalf of the
// calling process's user.
func TestAskMakerApplyThroughDaemon(t *testing.T) {
	state := t.TempDir()
	hb, _ := fileTask(t, "Tasks hourly", "unused")
	d := startDaemon(t, state, "--heartbeat", hb)
	question, target := makerQuestion(t, "NEW")
	policy := filepath.Join(t.TempDir(), "approvals.yaml")
	writePolicy(t, policy, "files", "file/"+filepath.Dir(target)+"/*", "2099-01-01", "")
	r := cli(t, state, "ask", question, "--maker", "--apply", "--approvals", policy)
	if data, _ := os.ReadFile(target); r.code != 0 || string(data) != "NEW" {
		t.Fatalf("--apply through the daemon: exit %d, target %q\n%s\n%s", r.code, data, r.stdout, r.stderr)
	}
	want := control.PolicyActor("files", control.UserName(os.Getuid()))
	found := false
	for _, rec := range auditRecords(t, state) {
		if rec.Action == "plan.applied" {
			found = rec.Actor == want && rec.Detail["rule"] == "files"
		}
	}
	if !found {
		t.Errorf("the daemon did not record the approval by %q with rule files: %+v", want, auditRecords(t, state))
	}
	d.stop(t, syscall.SIGTERM, 20*time.Second)
}
