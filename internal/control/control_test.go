package control

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/testenv/testnet"
	"github.com/clankerd/clankerd/tasks"
)

type driftTask struct{}

func (driftTask) Spec() checks.Spec { return checks.Spec{ID: "test.drift"} }
func (driftTask) Plan(context.Context, checks.Params) (checks.Plan, error) {
	return checks.Plan{Target: "x/y", Observed: map[string]string{"v": "1"}, Change: "v 1 → 2", Risk: checks.RiskLow}, nil
}
func (driftTask) Apply(_ context.Context, p checks.Plan) (checks.Applied, error) {
	return checks.Applied{}, checks.CompareObserved(p.Target, p.Observed, map[string]string{"v": "9"})
}

type lookup map[string]checks.Task

func (l lookup) Task(id string) (checks.Task, bool) {
	t, ok := l[id]
	return t, ok
}

// serve starts a server for a fresh database on a socket in a short temp dir.
func serve(t *testing.T) (*Client, *Local, string) {
	t.Helper()
	return serveFor(t, nil)
}

// serveFor is serve with a server that answers only user uid (nil: this process's).
func serveFor(t *testing.T, uid *int) (*Client, *Local, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db, err := store.Open(filepath.Join(dir, "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := lookup{"test.drift": driftTask{}}
	local := &Local{DB: db, Tasks: &tasks.Service{Store: db, Tasks: reg, Key: []byte("test key")}}
	socket := filepath.Join(dir, SocketName)
	ln, err := Listen(socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{Local: local, uid: uid}).Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	c, err := Dial(t.Context(), socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, local, socket
}

// rawStatus sends a request the client would not make through c's socket and returns
// the HTTP status of the answer.
func rawStatus(t *testing.T, c *Client, method, path, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://clankerd"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRoundTrip(t *testing.T) {
	c, _, socket := serve(t)
	st, err := os.Stat(socket)
	if err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode = %v, %v", st.Mode(), err)
	}
	ctx := t.Context()
	seq, err := OpBeginRun.Do(ctx, c, store.Receipt{Item: "i1", Check: "tcp.connect", Pos: "HB.md:2", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	f := checks.Finding{Resource: "tcp://a:1", Problem: "unreachable", Severity: checks.High, Summary: "refused", Evidence: map[string]string{"error": "refused"}}
	res, err := OpEndRun.Do(ctx, c, RunEnd{Seq: seq, End: store.RunEnd{Status: checks.Fail, Findings: []checks.Finding{f}}})
	if err != nil || res.Receipt.Status != checks.Fail || len(res.Findings) != 1 || res.Findings[0].State != store.FindingNew {
		t.Fatalf("EndRun = %+v %v", res, err)
	}
	fs, err := OpFindings.Do(ctx, c, store.FindingFilter{States: []store.FindingState{store.FindingNew}})
	if err != nil || len(fs) != 1 || fs[0].Evidence["error"] != "refused" {
		t.Errorf("Findings = %+v, %v", fs, err)
	}
	st2, err := OpStatus.Do(ctx, c, None{})
	if err != nil || len(st2.Items) != 1 || st2.OpenFindings["high"] != 1 {
		t.Errorf("Status = %+v, %v", st2, err)
	}
	if _, err := OpAddReceipt.Do(ctx, c, store.Receipt{Item: "i1", Check: "tcp.connect", Pos: "HB.md:2", Status: checks.Skipped, Error: "outside active hours"}); err != nil {
		t.Error(err)
	}
	runs, err := OpRuns.Do(ctx, c, store.RunFilter{Item: "i1"})
	if err != nil || len(runs) != 2 || runs[0].Status != checks.Skipped {
		t.Errorf("Runs = %+v, %v", runs, err)
	}
	if n, err := OpVerifyAudit.Do(ctx, c, AuditVerify{}); err != nil || n != 0 {
		t.Errorf("VerifyAudit = %d, %v", n, err)
	}
}

func TestErrorsKeepTheirMeaning(t *testing.T) {
	c, _, _ := serve(t)
	ctx := t.Context()
	planner := &tasks.Planner{Tasks: lookup{"test.drift": driftTask{}}}
	draft, err := planner.Draft(ctx, tasks.Request{Task: "test.drift", Item: "item", Source: "HB.md:1"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := OpQueuePlan.Do(ctx, c, QueueRequest{Draft: draft, Actor: "tester"})
	p := q.Plan
	if err != nil || !q.Created || p.State != tasks.PlanPending {
		t.Fatalf("QueuePlan = %+v %v", q, err)
	}
	if again, _ := OpQueuePlan.Do(ctx, c, QueueRequest{Draft: draft, Actor: "tester"}); again.Created {
		t.Error("a second plan was queued for the item")
	}
	_, err = OpApprove.Do(ctx, c, Decision{ID: p.ID, Actor: "alice", Digest: p.Digest})
	if !errors.Is(err, tasks.ErrStale) || !strings.Contains(err.Error(), "changed since the plan was made") {
		t.Errorf("Approve over the socket: %v", err)
	}
	if _, err := OpApprove.Do(ctx, c, Decision{ID: p.ID, Actor: "alice", Digest: p.Digest}); !errors.Is(err, tasks.ErrNotPending) {
		t.Errorf("second Approve: %v", err)
	}
	if _, err := OpPlan.Do(ctx, c, "p-nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Plan of an unknown id: %v", err)
	}
	got, err := OpPlan.Do(ctx, c, p.ID)
	if err != nil || got.State != tasks.PlanStale || got.Digest != p.Digest {
		t.Errorf("Plan = %+v, %v", got, err)
	}
}

func TestMalformedRequests(t *testing.T) {
	c, _, _ := serve(t)
	for name, body := range map[string]string{
		"not json":      "{",
		"unknown field": `{"bogus": 1}`,
		"wrong type":    `{"seq": "one"}`,
	} {
		if code := rawStatus(t, c, http.MethodPost, "/v1/end_run", body); code != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", name, code)
		}
	}
	if code := rawStatus(t, c, http.MethodGet, "/v1/status", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: HTTP %d, want 405", code)
	}
	// The server keeps serving.
	if _, err := OpStatus.Do(t.Context(), c, None{}); err != nil {
		t.Errorf("after malformed requests: %v", err)
	}
}

func TestListen(t *testing.T) {
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, SocketName)
	// A socket file left by a dead daemon is replaced.
	stale, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	ln, err := Listen(socket)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer ln.Close()
	go testnet.AcceptAndClose(ln)
	// One that answers belongs to a live daemon.
	if _, err := Listen(socket); err == nil || !strings.Contains(err.Error(), "another clankerd daemon") {
		t.Errorf("Listen while a daemon answers: %v", err)
	}
	if _, err := Dial(t.Context(), filepath.Join(dir, "missing.sock")); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("Dial of a missing socket: %v", err)
	}
}
