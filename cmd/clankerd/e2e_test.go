package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/testenv/testnet"
)

// binary is the clankerd binary the end-to-end tests run, built once by TestMain with
// the test tasks compiled in and the build tags of the tests themselves.
var binary string

func TestMain(m *testing.M) {
	if socket := os.Getenv(impostorEnv); socket != "" {
		os.Exit(runImpostor(socket))
	}
	dir, err := os.MkdirTemp("", "clankerd-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "clankerd")
	args := []string{"build", "-tags", binaryTags(), "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building clankerd for the end-to-end tests:", err)
		os.Exit(2)
	}
	if raceEnabled {
		// The race detector waits a second at every exit of a race build; the end-to-end
		// tests run the binary hundreds of times. Races are still reported.
		os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binaryTags are clankerd_testtasks and the tags this test binary was built with, so
// that `go test -tags clankerd_noaws` runs a binary without the AWS provider.
func binaryTags() string {
	tags := []string{"clankerd_testtasks"}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-tags" && s.Value != "" {
				tags = append(tags, s.Value)
			}
		}
	}
	return strings.Join(tags, ",")
}

// result is one finished clankerd command.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs clankerd with the state directory and returns what it printed and its exit
// code.
func cli(t *testing.T, stateDir string, args ...string) result {
	t.Helper()
	return cliEnv(t, nil, stateDir, args...)
}

// cliEnv is cli with extra environment variables ("KEY=value").
func cliEnv(t *testing.T, env []string, stateDir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"--state-dir", stateDir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return runCommand(t, cmd)
}

// runCommand runs cmd and returns what it printed and its exit code; it fails the test
// when cmd cannot run at all.
func runCommand(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", cmd.Args, err)
	}
	return result{out.String(), errb.String(), code}
}

// jsonOut runs a command with -o json, requires the exit code, and decodes stdout.
func jsonOut(t *testing.T, stateDir string, wantCode int, v any, args ...string) {
	t.Helper()
	r := cli(t, stateDir, append(args, "-o", "json")...)
	if r.code != wantCode {
		t.Fatalf("clankerd %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, r.code, wantCode, r.stdout, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("clankerd %v: output is not JSON: %v\n%s", args, err, r.stdout)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe to write from a process and read from the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// daemonProc is a running `clankerd run`.
type daemonProc struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	done   chan struct{}
	exitOK bool
	code   int
}

func startDaemon(t *testing.T, stateDir string, args ...string) *daemonProc {
	t.Helper()
	return startDaemonEnv(t, nil, stateDir, args...)
}

// startDaemonEnv is startDaemon with extra environment variables ("KEY=value").
func startDaemonEnv(t *testing.T, env []string, stateDir string, args ...string) *daemonProc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--state-dir", stateDir, "--log-level", "debug", "run"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	d := &daemonProc{cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		d.code = cmd.ProcessState.ExitCode()
		d.exitOK = err == nil
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("daemon logs:\n%s", d.logs.String())
		}
	})
	socket := filepath.Join(stateDir, control.SocketName)
	waitFor(t, 30*time.Second, "the daemon's control socket", func() bool {
		select {
		case <-d.done:
			t.Fatalf("daemon exited early (%d):\n%s", d.code, d.logs.String())
		default:
		}
		c, err := net.Dial("unix", socket)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return d
}

// stop sends sig and waits for the daemon to exit.
func (d *daemonProc) stop(t *testing.T, sig syscall.Signal, timeout time.Duration) {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(timeout):
		t.Fatalf("daemon did not exit within %s of %s", timeout, sig)
	}
}

// listen opens a loopback TCP port that accepts and closes connections.
func listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go testnet.AcceptAndClose(ln)
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
var closedPort = testnet.ClosedPort

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

type checkOutput struct {
	Results []struct {
		Check  string `json:"check"`
		Item   string `json:"item"`
		Status string `json:"status"`
		Error  string `json:"error"`
		Plan   *struct {
			ID      string `json:"id"`
			Created bool   `json:"created"`
		} `json:"plan"`
		Findings []struct {
			Fingerprint string            `json:"fingerprint"`
			Resource    string            `json:"resource"`
			State       string            `json:"state"`
			Severity    string            `json:"severity"`
			Evidence    map[string]string `json:"evidence"`
		} `json:"findings"`
	} `json:"results"`
}

func TestCheckCommand(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	open, closed := listen(t), closedPort(t)
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("# Test\n\n## Every 5 minutes\n- `tcp.connect` addr=%s\n- `tcp.connect` addr=%s timeout=2s\n- Is the API up?\n", open, closed))

	var first, second checkOutput
	jsonOut(t, state, 1, &first, "check", hb)
	if len(first.Results) != 3 {
		t.Fatalf("results = %+v", first.Results)
	}
	pass, fail, question := first.Results[0], first.Results[1], first.Results[2]
	if pass.Status != "pass" || pass.Item != hb+":4" || len(pass.Findings) != 0 {
		t.Errorf("open port = %+v", pass)
	}
	if fail.Status != "fail" || len(fail.Findings) != 1 || fail.Findings[0].State != "new" || fail.Findings[0].Resource != "tcp://"+closed {
		t.Errorf("closed port = %+v", fail)
	}
	if question.Status != "skipped" || !strings.Contains(question.Error, "not routed yet") {
		t.Errorf("question = %+v", question)
	}
	jsonOut(t, state, 1, &second, "check", hb)
	if f := second.Results[1].Findings; len(f) != 1 || f[0].State != "unchanged" || f[0].Fingerprint != fail.Findings[0].Fingerprint {
		t.Errorf("second run findings = %+v", f)
	}

	var findings struct {
		Findings []struct{ State, Resource, Check string } `json:"findings"`
	}
	jsonOut(t, state, 0, &findings, "findings", "--state", "open")
	if len(findings.Findings) != 1 || findings.Findings[0].Check != "tcp.connect" {
		t.Errorf("open findings = %+v", findings)
	}
	var runs struct {
		Runs []struct{ Status, Check string } `json:"runs"`
	}
	jsonOut(t, state, 0, &runs, "runs", "--check", "tcp.connect")
	if len(runs.Runs) != 4 {
		t.Errorf("%d runs of tcp.connect, want 4 (questions leave none)", len(runs.Runs))
	}

	// The listener goes away: the check fails, the other is resolved by a pass.
	writeFile(t, hb, fmt.Sprintf("## Every 5 minutes\n- `tcp.connect` addr=%s timeout=2s\n", closed))
	var third checkOutput
	jsonOut(t, state, 1, &third, "check", hb)
	if third.Results[0].Item != hb+":2" || third.Results[0].Findings[0].State != "unchanged" {
		t.Errorf("moved item lost its history: %+v", third.Results[0])
	}

	r := cli(t, state, "check", hb, "-o", "junit")
	var junit struct {
		Suites []struct {
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(r.stdout), &junit); err != nil || r.code != 1 || len(junit.Suites) != 1 || junit.Suites[0].Failures != 1 {
		t.Errorf("junit: exit %d, %v, %+v", r.code, err, junit)
	}
	if r := cli(t, state, "check", hb, "--only", "http.status"); r.code != 3 || !strings.Contains(r.stderr, "no item matches --only http.status") {
		t.Errorf("--only with no match: %+v", r)
	}
	if r := cli(t, state, "check", hb, "-o", "yaml"); r.code != 3 || !strings.Contains(r.stderr, "use one of text, json, junit") {
		t.Errorf("bad --output: %+v", r)
	}
	if r := cli(t, state, "status"); r.code != 0 || !strings.Contains(r.stdout, "daemon: not running") || !strings.Contains(r.stdout, "1 high") {
		t.Errorf("status: %+v", r)
	}
}

func TestLintAndBadInput(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	good := filepath.Join(dir, "good.md")
	writeFile(t, good, "---\ntimezone: UTC\n---\n## Daily at 09:00\n- `tls.expiry` addr=example.com warn=30d\n")
	r := cli(t, state, "lint", good)
	if r.code != 0 || !strings.Contains(r.stdout, "CRON_TZ=UTC 0 9 * * *") || !strings.Contains(r.stdout, "valid") {
		t.Errorf("lint good: %+v", r)
	}
	bad := filepath.Join(dir, "bad.md")
	writeFile(t, bad, "## Every fortnight\n- `tcp.conect` addr=a:1\n- `tcp.connect` addr=nope\n")
	for _, cmd := range []string{"lint", "check"} {
		r := cli(t, state, cmd, bad)
		for _, want := range []string{bad + ":1: heading", bad + `:2: unknown check "tcp.conect"; did you mean tcp.connect`, bad + ":3: tcp.connect: parameter addr"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, r.stderr)
			}
		}
		if r.code != 3 {
			t.Errorf("%s: exit %d, want 3", cmd, r.code)
		}
	}
	var lint struct {
		Valid  bool     `json:"valid"`
		Errors []string `json:"errors"`
	}
	jsonOut(t, state, 3, &lint, "lint", bad)
	if lint.Valid || len(lint.Errors) != 3 {
		t.Errorf("lint json = %+v", lint)
	}
	if r := cli(t, state, "lint", filepath.Join(dir, "missing.md")); r.code != 3 || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("missing file: %+v", r)
	}
	if r := cli(t, state, "lint", "--list"); r.code != 0 || !strings.Contains(r.stdout, "http.status (check)") || !strings.Contains(r.stdout, "test.file.set (task)") {
		t.Errorf("lint --list: %+v", r)
	}
	if r := cli(t, state, "frobnicate"); r.code == 0 {
		t.Errorf("unknown command exits 0")
	}
	if r := cli(t, state, "runs", "--limit", "many"); r.code != 3 {
		t.Errorf("bad flag: exit %d", r.code)
	}
	if r := cli(t, state, "plan", "show", "p-missing"); r.code != 3 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("unknown plan: %+v", r)
	}
}

func TestPlansEndToEnd(t *testing.T) {
	state := t.TempDir()
	hb, target := fileTask(t, "Tasks", "v2")
	queue := func(extra ...string) string { t.Helper(); return queuePlan(t, state, hb, extra...) }
	id := queue()
	if again := queue(); again != id {
		t.Errorf("second check queued %s, want the pending %s", again, id)
	}
	if data, _ := os.ReadFile(target); string(data) != "v1" {
		t.Fatal("check applied the change")
	}
	var plans struct {
		Plans []struct {
			ID, State, Risk, Target, Change string
			Observed                        map[string]string
			ExpiresAt                       time.Time `json:"expires_at"`
		} `json:"plans"`
	}
	jsonOut(t, state, 0, &plans, "plans", "--state", "pending")
	if len(plans.Plans) != 1 || plans.Plans[0].ID != id || plans.Plans[0].Observed["content"] != "v1" || plans.Plans[0].ExpiresAt.IsZero() {
		t.Fatalf("pending plans = %+v", plans)
	}
	if r := cli(t, state, "approve", id, "--yes"); r.code != 0 || !strings.Contains(r.stdout, "applied: wrote") {
		t.Fatalf("approve: %+v", r)
	}
	if data, _ := os.ReadFile(target); string(data) != "v2" {
		t.Fatalf("target = %q after approve", data)
	}

	// Drift: the file changes after the plan was made.
	writeFile(t, target, "v1")
	stale := queue()
	writeFile(t, target, "edited by hand")
	if r := cli(t, state, "approve", stale, "--yes"); r.code != 4 || !strings.Contains(r.stderr, "refused") || !strings.Contains(r.stderr, "changed since the plan was made") {
		t.Errorf("approve of a drifted plan: %+v", r)
	}
	if data, _ := os.ReadFile(target); string(data) != "edited by hand" {
		t.Errorf("a stale plan changed the target: %q", data)
	}

	// Expiry.
	expiring := queue("--plan-expiry", "1s")
	time.Sleep(1100 * time.Millisecond)
	if r := cli(t, state, "approve", expiring, "--yes"); r.code != 4 || !strings.Contains(r.stderr, "expired") {
		t.Errorf("approve of an expired plan: %+v", r)
	}

	// Reject needs a reason.
	rejected := queue()
	if r := cli(t, state, "reject", rejected); r.code != 3 {
		t.Errorf("reject without reason: exit %d", r.code)
	}
	if r := cli(t, state, "reject", rejected, "--reason", "not now"); r.code != 0 {
		t.Errorf("reject: %+v", r)
	}
	if r := cli(t, state, "approve", rejected, "--yes"); r.code != 4 {
		t.Errorf("approve after reject: exit %d", r.code)
	}

	var audit struct {
		Audit []struct{ Action, Subject, Actor string } `json:"audit"`
	}
	jsonOut(t, state, 0, &audit, "audit", "--limit", "0")
	var steps []string
	for _, a := range audit.Audit {
		if a.Subject == id {
			steps = append(steps, a.Action)
		}
	}
	if strings.Join(steps, ",") != "plan.created,plan.approved,plan.applying,plan.applied" {
		t.Errorf("audit of %s = %v", id, steps)
	}
	if r := cli(t, state, "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "audit chain intact") {
		t.Errorf("audit verify: %+v", r)
	}
	if r := cli(t, state, "plan", "show", stale); r.code != 0 || !strings.Contains(r.stdout, "(stale)") {
		t.Errorf("plan show: %+v", r)
	}
}

func TestDaemonReloadAndStop(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	open := listen(t)
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s\n", open))
	d := startDaemon(t, state, "--heartbeat", hb, "--grace", "10s")

	runsOf := func(check string) int {
		var runs struct {
			Runs []struct{ Check, Status, Pos string } `json:"runs"`
		}
		jsonOut(t, state, 0, &runs, "runs", "--limit", "0", "--check", check)
		return len(runs.Runs)
	}
	waitFor(t, 20*time.Second, "scheduled runs", func() bool { return runsOf("tcp.connect") >= 2 })

	// A good edit, saved by renaming a new file over the old one, is picked up.
	tmp := filepath.Join(dir, ".HEARTBEAT.md.swp")
	writeFile(t, tmp, fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s\n- `tls.expiry` addr=%s timeout=1s\n", open, open))
	if err := os.Rename(tmp, hb); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the new item to run", func() bool { return runsOf("tls.expiry") >= 1 })

	// A broken edit keeps the last good items running and says where the error is.
	writeFile(t, hb, "## Every 1 second\n- `tcp.connect` addr=\n")
	waitFor(t, 20*time.Second, "the reload error in the log", func() bool {
		return strings.Contains(d.logs.String(), hb+":2: tcp.connect: parameter addr")
	})
	before := runsOf("tls.expiry")
	waitFor(t, 20*time.Second, "the last good items to keep running", func() bool { return runsOf("tls.expiry") > before })
	var st control.Status
	jsonOut(t, state, 0, &st, "status")
	if st.Daemon == nil || st.Daemon.Items != 2 || len(st.Daemon.LoadErrors) != 1 {
		t.Errorf("status after a broken edit = %+v", st.Daemon)
	}

	// SIGHUP reloads too.
	writeFile(t, hb, fmt.Sprintf("## Hourly\n- `tcp.connect` addr=%s\n", open))
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the reload after SIGHUP", func() bool {
		var st control.Status
		jsonOut(t, state, 0, &st, "status")
		return st.Daemon != nil && st.Daemon.Items == 1 && len(st.Daemon.LoadErrors) == 0
	})

	d.stop(t, syscall.SIGTERM, 20*time.Second)
	if !d.exitOK {
		t.Errorf("daemon exit code %d after SIGTERM", d.code)
	}
	if _, err := os.Stat(filepath.Join(state, control.SocketName)); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
	// Without the daemon the CLI opens the database itself.
	var audit struct {
		Audit []struct{ Action string } `json:"audit"`
	}
	jsonOut(t, state, 0, &audit, "audit", "--limit", "0")
	var actions []string
	for _, a := range audit.Audit {
		actions = append(actions, a.Action)
	}
	for _, want := range []string{"heartbeat.loaded", "heartbeat.reloaded", "heartbeat.rejected"} {
		if !strings.Contains(strings.Join(actions, ","), want) {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}
	if r := cli(t, state, "audit", "verify"); r.code != 0 {
		t.Errorf("audit verify after stop: %+v", r)
	}
}

func TestDaemonOverlapAndGracefulStop(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	// A server that answers slowly: each run takes 2.5s, ticks come every second.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveSlowHTTP(ln, 2500*time.Millisecond)
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 1 second\n- `http.status` url=http://%s/ timeout=10s\n", ln.Addr()))
	d := startDaemon(t, state, "--heartbeat", hb, "--grace", "10s")

	skipped := func() int {
		var runs struct {
			Runs []struct{ Status, Error string } `json:"runs"`
		}
		jsonOut(t, state, 0, &runs, "runs", "--limit", "0")
		n := 0
		for _, r := range runs.Runs {
			if r.Status == "skipped" && strings.HasPrefix(r.Error, "previous run still in progress") {
				n++
			}
		}
		return n
	}
	waitFor(t, 20*time.Second, "overlapping ticks to be skipped", func() bool { return skipped() >= 2 })
	waitFor(t, 10*time.Second, "a run in flight", func() bool { return strings.Contains(d.logs.String(), "http.status") })

	d.stop(t, syscall.SIGTERM, 20*time.Second)
	if !d.exitOK {
		t.Fatalf("exit %d after SIGTERM", d.code)
	}
	var runs struct {
		Runs []struct{ Status, Error string } `json:"runs"`
	}
	jsonOut(t, state, 0, &runs, "runs", "--limit", "0")
	passed := 0
	for _, r := range runs.Runs {
		if r.Status == "running" {
			t.Errorf("a run was left running after a graceful stop: %+v", r)
		}
		if r.Status == "pass" {
			passed++
		}
	}
	if passed == 0 {
		t.Error("no slow run completed")
	}
}

// serveSlowHTTP answers every request with 200 after delay.
func serveSlowHTTP(ln net.Listener, delay time.Duration) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 4096)
			c.Read(buf)
			time.Sleep(delay)
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
		}()
	}
}

func TestDaemonKill9(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	open := listen(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	// The slow run is the one the kill interrupts: it lasts long enough that it is
	// still in flight when the test, polling through the CLI, has seen it and kills.
	go serveSlowHTTP(ln, 8*time.Second)
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s\n- `tcp.connect` addr=%s\n- `http.status` url=http://%s/ timeout=10s\n", open, closedPort(t), ln.Addr()))
	d := startDaemon(t, state, "--heartbeat", hb)

	type run struct {
		Seq    uint64 `json:"seq"`
		Check  string `json:"check"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	// slowRunning is the slow run seen in flight; a tcp.connect run seen running
	// takes milliseconds and may well end before the kill.
	slowRunning := func(r run) bool { return r.Status == "running" && r.Check == "http.status" }
	var before struct{ Runs []run }
	waitFor(t, 20*time.Second, "runs, with one in flight", func() bool {
		jsonOut(t, state, 0, &before, "runs", "--limit", "0")
		inFlight := false
		for _, r := range before.Runs {
			inFlight = inFlight || slowRunning(r)
		}
		return len(before.Runs) >= 6 && inFlight
	})
	d.stop(t, syscall.SIGKILL, 10*time.Second)

	// The database opens after the kill; every receipt committed before it is there;
	// the run that was in flight is closed as interrupted.
	d2 := startDaemon(t, state, "--heartbeat", hb)
	var after struct{ Runs []run }
	jsonOut(t, state, 0, &after, "runs", "--limit", "0")
	bySeq := map[uint64]run{}
	for _, r := range after.Runs {
		bySeq[r.Seq] = r
	}
	interrupted := 0
	for _, r := range before.Runs {
		got, ok := bySeq[r.Seq]
		if !ok {
			t.Errorf("receipt %d was lost", r.Seq)
			continue
		}
		switch {
		case slowRunning(r):
			if got.Status != "error" || !strings.HasPrefix(got.Error, "interrupted") {
				t.Errorf("in-flight run %d after restart = %+v", r.Seq, got)
			}
			interrupted++
		case r.Status == "running":
			if got.Status == "running" {
				t.Errorf("run %d is still running after the restart", r.Seq)
			}
		case got.Status != r.Status:
			t.Errorf("receipt %d changed from %s to %s", r.Seq, r.Status, got.Status)
		}
	}
	if interrupted == 0 {
		t.Error("no run was in flight when the daemon was killed")
	}
	if r := cli(t, state, "audit", "verify"); r.code != 0 {
		t.Errorf("audit verify after kill -9: %+v", r)
	}
	d2.stop(t, syscall.SIGTERM, 20*time.Second)
}

func TestDaemonConcurrentApproves(t *testing.T) {
	state := t.TempDir()
	hb, target := fileTask(t, "Tasks hourly", "v2")
	d := startDaemon(t, state, "--heartbeat", hb)

	// check runs in this process and queues through the daemon.
	id := queuePlan(t, state, hb)

	codes := make([]int, 6)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() { codes[i] = cli(t, state, "approve", id, "--yes").code })
	}
	wg.Wait()
	applied, refused := 0, 0
	for _, c := range codes {
		switch c {
		case 0:
			applied++
		case 4:
			refused++
		}
	}
	if applied != 1 || refused != 5 {
		t.Errorf("exit codes %v: want one 0 and five 4", codes)
	}
	if data, _ := os.ReadFile(target); string(data) != "v2" {
		t.Errorf("target = %q", data)
	}
	d.stop(t, syscall.SIGTERM, 20*time.Second)
}

func TestLockedDatabase(t *testing.T) {
	state := t.TempDir()
	// Another process (here: the test, not a daemon) holds the database.
	db := openStoreForTest(t, state)
	defer db.Close()
	start := time.Now()
	r := cli(t, state, "findings")
	if r.code != 2 || !strings.Contains(r.stderr, "in use by another process") {
		t.Errorf("locked database: %+v", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the locked database took %s to report", d)
	}
}

func TestTamperedAuditDetected(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	target := filepath.Join(dir, "t.txt")
	hb := filepath.Join(dir, "HB.md")
	writeFile(t, hb, fmt.Sprintf("## Tasks\n- `test.file.set` path=%s content=x\n", target))
	for range 3 {
		var out checkOutput
		jsonOut(t, state, 0, &out, "check", hb)
		if r := cli(t, state, "reject", out.Results[0].Plan.ID, "--reason", "test"); r.code != 0 {
			t.Fatal(r)
		}
	}
	tamperAuditRecord(t, state, 2)
	r := cli(t, state, "audit", "verify")
	if r.code != 1 || !strings.Contains(r.stderr, "audit chain is broken at record 2") {
		t.Errorf("tampered audit log: %+v", r)
	}
}
