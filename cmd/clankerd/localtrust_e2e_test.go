package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/tasks"
)

// The tests of issue 12's local trust holes: approvals need a person and are recorded
// as the user who made them, and the state directory, its socket and its token file
// are trusted only when they are the user's own.

// nobody is the uid and gid the tests run another user's processes and files as.
const nobody = 65534

// impostorEnv makes the test binary an impostor daemon (see runImpostor) instead of
// running tests.
const impostorEnv = "CLANKERD_TEST_IMPOSTOR_SOCKET"

// runImpostor is another user's fake daemon: it listens on socket, prints "ready",
// then prints every request it is sent and answers it with an empty JSON object.
func runImpostor(socket string) int {
	ln, err := net.Listen("unix", socket)
	if err != nil {
		fmt.Println("impostor:", err)
		return 2
	}
	if err := os.Chmod(socket, 0o666); err != nil {
		fmt.Println("impostor:", err)
		return 2
	}
	fmt.Println("ready")
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("request %s %s %s\n", r.Method, r.URL.Path, body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
	}))
	return 0
}

// auditActor is who the audit log says did action to subject ("" when nobody did).
func auditActor(t *testing.T, state, subject, action string) string {
	t.Helper()
	var audit struct {
		Audit []struct{ Action, Subject, Actor string } `json:"audit"`
	}
	jsonOut(t, state, 0, &audit, "audit", "--limit", "0")
	for _, a := range audit.Audit {
		if a.Subject == subject && a.Action == action {
			return a.Actor
		}
	}
	return ""
}

// socketHTTP is an HTTP client of the unix socket, for requests clankerd would not send.
func socketHTTP(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
}

func currentUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// TestApproveNeedsAPerson (hole 5): approve with stdin off a terminal and no --yes is
// refused and changes nothing; the approver recorded is the user of the process that
// approved, whatever name a client sends; the socket appends no audit record a client
// writes.
func TestApproveNeedsAPerson(t *testing.T) {
	state := t.TempDir()
	hb, target := fileTask(t, "Tasks hourly", "v2")
	me := currentUser(t)

	refused := func(id string) {
		t.Helper()
		// cli runs clankerd with stdin from /dev/null.
		r := cli(t, state, "approve", id)
		if r.code != exitRefused || !strings.Contains(r.stderr, "approve needs a person: run it at a terminal, or pass --yes in scripts") {
			t.Errorf("approve %s </dev/null: %+v, want exit 4 and a refusal", id, r)
		}
		if data, _ := os.ReadFile(target); string(data) != "v1" {
			t.Fatalf("approve without a person changed the target to %q", data)
		}
		var plan struct{ State string }
		jsonOut(t, state, 0, &plan, "plan", "show", id)
		if plan.State != string(tasks.PlanPending) {
			t.Errorf("plan %s is %s after a refused approve, want pending", id, plan.State)
		}
	}
	id := queuePlan(t, state, hb)
	refused(id) // no daemon: this process would apply it

	d := startDaemon(t, state, "--heartbeat", hb)
	refused(id) // the daemon would apply it
	if r := cli(t, state, "approve", id, "--yes"); r.code != 0 || !strings.Contains(r.stdout, "applied: wrote") {
		t.Fatalf("approve --yes: %+v", r)
	}
	if got := auditActor(t, state, id, "plan.approved"); got != me {
		t.Errorf("approved by %q, want %q", got, me)
	}

	// A client that sends another name is recorded as the user it runs as.
	writeFile(t, target, "v1")
	id2 := queuePlan(t, state, hb)
	socket := app.Socket(state)
	c, err := control.Dial(t.Context(), socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	queued, err := control.OpPlan.Do(t.Context(), c, id2)
	if err != nil {
		t.Fatal(err)
	}
	p, err := control.OpApprove.Do(t.Context(), c, control.Decision{ID: id2, Actor: "mallory", Digest: queued.Digest})
	if err != nil || p.State != tasks.PlanApplied || p.DecidedBy != me {
		t.Fatalf("approve as mallory = %s by %q, %v; want applied by %q", p.State, p.DecidedBy, err, me)
	}
	if got := auditActor(t, state, id2, "plan.approved"); got != me {
		t.Errorf("approved by %q, want %q", got, me)
	}

	// The socket offers no way to append an audit record.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://clankerd/v1/audit_append",
		strings.NewReader(`{"actor":"alice","action":"plan.approved","subject":"`+id2+`"}`))
	resp, err := socketHTTP(socket).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /v1/audit_append: HTTP %d, want 404", resp.StatusCode)
	}
	if got := auditActor(t, state, id2, "plan.approved"); got != me {
		t.Errorf("after audit_append the approval is by %q, want %q", got, me)
	}
	if r := cli(t, state, "audit", "verify"); r.code != 0 || strings.Contains(r.stdout+r.stderr, "alice") {
		t.Errorf("audit verify: %+v", r)
	}
	d.stop(t, syscall.SIGTERM, 20*time.Second)
}

// TestStateDirOthersCanWriteRefused (hole 7): a state directory group or others can
// write, or that another user owns, is refused by every command that uses it, and
// nothing is written there.
func TestStateDirOthersCanWriteRefused(t *testing.T) {
	hb := filepath.Join(t.TempDir(), "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 5 minutes\n- `tcp.connect` addr=%s\n", listen(t)))
	refusedIn := func(state, want string) {
		t.Helper()
		for _, argv := range [][]string{{"check", hb}, {"status"}, {"mcp", "token"}} {
			r := cli(t, state, argv...)
			if r.code != exitErr || !strings.Contains(r.stderr, "state directory "+state) || !strings.Contains(r.stderr, want) {
				t.Errorf("clankerd %v in a shared state directory: %+v, want exit 2 and %q", argv, r, want)
			}
		}
		if entries, err := os.ReadDir(state); err != nil || len(entries) != 0 {
			t.Errorf("the state directory holds %v (%v), want nothing", entries, err)
		}
	}
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	refusedIn(shared, "writable by group or others (mode 0777): run `chmod 700 "+shared+"`")

	if os.Getuid() != 0 {
		t.Log("not root: a state directory owned by another user is tested in internal/private only")
		return
	}
	theirs := t.TempDir()
	if err := os.Chown(theirs, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	refusedIn(theirs, fmt.Sprintf("is owned by uid %d, not by you", nobody))
}

// TestMCPTokenPlantedRefused (hole 7): a token file others can read, or another user's,
// is refused instead of printed or used, and is left as it is.
func TestMCPTokenPlantedRefused(t *testing.T) {
	state := t.TempDir()
	path := filepath.Join(state, app.TokenFile)
	planted := strings.Repeat("ab", 32)
	writeFile(t, path, planted+"\n")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	refused := func(want string) {
		t.Helper()
		for _, argv := range [][]string{{"mcp", "token"}, {"mcp", "token", "--rotate"}} {
			r := cli(t, state, argv...)
			if r.code != exitErr || strings.Contains(r.stdout, planted) || !strings.Contains(r.stderr, want) {
				t.Errorf("clankerd %v with a planted token: %+v, want exit 2 and %q", argv, r, want)
			}
		}
		if b, _ := os.ReadFile(path); string(b) != planted+"\n" {
			t.Errorf("the planted token file was changed: %q", b)
		}
	}
	refused("(mode 0644): run `chmod 600 " + path + "`")

	if os.Getuid() == 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		refused(fmt.Sprintf("is owned by uid %d, not by you", nobody))
	}

	// Once it is gone clankerd makes its own.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	r := cli(t, state, "mcp", "token")
	token := strings.TrimSpace(r.stdout)
	if r.code != 0 || len(token) != 64 || token == planted {
		t.Fatalf("mcp token after removing the planted file: %+v", r)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v %v", fi, err)
	}
	if again := cli(t, state, "mcp", "token"); strings.TrimSpace(again.stdout) != token {
		t.Errorf("the token changed between calls: %+v", again)
	}
}

// TestStateDirPlantedSocketRefused (hole 7): a control socket another user's process
// answers gets nothing from clankerd: neither when the socket file is theirs nor when
// the file is ours but the process answering is theirs; and clankerd does not fall
// back to the database either. It runs the impostor as uid 65534, so it needs root;
// without it the uid checks are tested in internal/control
// (TestDialRefusesAnotherUsersDaemon).
func TestStateDirPlantedSocketRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run an impostor daemon as another user; internal/control's TestDialRefusesAnotherUsersDaemon covers the uid checks")
	}
	// The impostor is this test binary, linked where uid 65534 can run it.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	imp, err := os.MkdirTemp("", "clankerd-impostor")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(imp) })
	theirs := filepath.Join(imp, "theirs")
	if err := os.Mkdir(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{imp: 0o755, theirs: 0o700} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(theirs, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	impExe := filepath.Join(imp, "impostor")
	if err := os.Link(exe, impExe); err != nil {
		t.Skipf("cannot link the test binary where another user can run it: %v", err)
	}
	theirSocket := filepath.Join(theirs, control.SocketName)
	cmd := exec.Command(impExe)
	cmd.Dir = imp
	cmd.Env = append(os.Environ(), impostorEnv+"="+theirSocket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, 20*time.Second, "the impostor daemon", func() bool { return strings.Contains(out.String(), "ready") })

	state := t.TempDir()
	hb, _ := fileTask(t, "Tasks", "s3cret-v2")
	// The socket planted in our state directory (as in a shared one).
	socket := app.Socket(state)
	if err := os.Rename(theirSocket, socket); err != nil {
		t.Fatal(err)
	}
	refused := func(want string) {
		t.Helper()
		for _, argv := range [][]string{{"check", hb}, {"status"}} {
			r := cli(t, state, argv...)
			if r.code != exitErr || !strings.Contains(r.stderr, socket) || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "nothing was sent to it") {
				t.Errorf("clankerd %v with a planted socket: %+v, want exit 2 and %q", argv, r, want)
			}
		}
		if strings.Contains(out.String(), "request") {
			t.Errorf("the impostor was sent:\n%s", out.String())
		}
		if _, err := os.Stat(filepath.Join(state, "state.db")); err == nil {
			t.Error("clankerd fell back to the database beside the planted socket")
		}
	}
	refused(fmt.Sprintf("is owned by uid %d, not by you", nobody))
	// Even when the file is ours, the process answering is not.
	if err := os.Lchown(socket, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	refused(fmt.Sprintf("is answered by another user's process (uid %d", nobody))
}
