package control

import (
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

func TestPeerCredentials(t *testing.T) {
	_, _, socket := serve(t)
	conn, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p, err := peerOfConn(conn)
	if err != nil || p.UID != os.Getuid() || p.PID != os.Getpid() {
		t.Fatalf("peer of the server = %+v, %v; want uid %d pid %d", p, err, os.Getuid(), os.Getpid())
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	tc, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if _, err := peerOfConn(tc); !errors.Is(err, errNoPeer) {
		t.Errorf("peer of a TCP connection: %v, want errNoPeer", err)
	}
}

// TestServerRefusesOtherUsers: a daemon answers only processes of its own user, even
// when the socket's mode would let another user connect.
func TestServerRefusesOtherUsers(t *testing.T) {
	other := os.Getuid() + 1
	c, _, _ := serveFor(t, &other)
	_, err := OpStatus.Do(t.Context(), c, None{})
	if err == nil || !strings.Contains(err.Error(), "only the daemon's own user") {
		t.Fatalf("status from another user: %v, want a refusal", err)
	}
	if code := rawStatus(t, c, http.MethodPost, "/v1/status", "{}"); code != http.StatusForbidden {
		t.Errorf("HTTP %d, want 403", code)
	}
}

// TestSocketRecordsTheCallersUser: through the socket the audit log names the user of
// the calling process, not the Actor the client sent; in-process the Actor counts.
func TestSocketRecordsTheCallersUser(t *testing.T) {
	c, local, _ := serve(t)
	ctx := t.Context()
	me := UserName(os.Getuid())
	planner := &tasks.Planner{Tasks: lookup{"test.drift": driftTask{}}}
	queue := func(b Backend, item, actor string) tasks.PlanRecord {
		t.Helper()
		draft, err := planner.Draft(ctx, tasks.Request{Task: "test.drift", Item: item, Source: "HB.md:1"})
		if err != nil {
			t.Fatal(err)
		}
		q, err := OpQueuePlan.Do(ctx, b, QueueRequest{Draft: draft, Actor: actor})
		if err != nil {
			t.Fatal(err)
		}
		return q.Plan
	}
	queued := queue(c, "a", "scheduler")
	viaSocket := queued.ID
	// The drift task never applies; the approval is audited before it is tried.
	if _, err := OpApprove.Do(ctx, c, Decision{ID: viaSocket, Actor: "mallory", Digest: queued.Digest}); !errors.Is(err, tasks.ErrStale) {
		t.Fatalf("approve: %v", err)
	}
	rejected := queue(c, "b", "mcp:"+me).ID
	if _, err := OpReject.Do(ctx, c, Decision{ID: rejected, Actor: "mallory", Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	inProcess := queue(local, "c", "scheduler").ID
	if _, err := OpReject.Do(ctx, local, Decision{ID: inProcess, Actor: "alice", Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	log, err := OpAudit.Do(ctx, c, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		viaSocket + " plan.created":  "scheduler (by " + me + ")",
		viaSocket + " plan.approved": me,
		rejected + " plan.created":   "mcp:" + me,
		rejected + " plan.rejected":  me,
		inProcess + " plan.created":  "scheduler",
		inProcess + " plan.rejected": "alice",
	}
	for _, r := range log {
		if strings.Contains(r.Actor, "mallory") {
			t.Errorf("audit record %d names the actor the client sent: %+v", r.Seq, r)
		}
		key := r.Subject + " " + r.Action
		if w, ok := want[key]; ok {
			if r.Actor != w {
				t.Errorf("%s by %q, want %q", key, r.Actor, w)
			}
			delete(want, key)
		}
	}
	for key := range want {
		t.Errorf("no audit record %s", key)
	}
}

// TestAuditAppendIsNotServed: no client can write an audit record of its choosing.
func TestAuditAppendIsNotServed(t *testing.T) {
	c, _, _ := serve(t)
	ctx := t.Context()
	body := `{"actor":"alice","action":"plan.approved","subject":"p-1"}`
	if code := rawStatus(t, c, http.MethodPost, "/v1/audit_append", body); code != http.StatusNotFound {
		t.Errorf("POST /v1/audit_append: HTTP %d, want 404", code)
	}
	if _, err := OpAppendAudit.Do(ctx, c, store.AuditEntry{Actor: "alice", Action: "plan.approved", Subject: "p-1"}); err == nil {
		t.Error("OpAppendAudit through the socket succeeded")
	}
	if n, err := OpVerifyAudit.Do(ctx, c, AuditVerify{}); err != nil || n != 0 {
		t.Errorf("audit log holds %d records (%v), want none", n, err)
	}
}

// TestDialRefusesAnotherUsersDaemon: a socket file or a process of another user is
// refused before anything is sent.
func TestDialRefusesAnotherUsersDaemon(t *testing.T) {
	_, _, socket := serve(t)
	other := os.Getuid() + 1
	if _, err := dial(t.Context(), socket, other); !errors.Is(err, ErrNotOurDaemon) || !strings.Contains(err.Error(), "is owned by uid") {
		t.Errorf("dial of a socket file another user owns: %v, want ErrNotOurDaemon", err)
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = checkPeer(conn, socket, other)
	if !errors.Is(err, ErrNotOurDaemon) || !strings.Contains(err.Error(), "answered by another user's process") {
		t.Errorf("checkPeer of a daemon of another user: %v, want ErrNotOurDaemon", err)
	}
	if err := checkPeer(conn, socket, os.Getuid()); err != nil {
		t.Errorf("checkPeer of our own daemon: %v", err)
	}
	if os.Getuid() == 0 {
		// Root can give the file away, as another user's planted file would be.
		if err := os.Lchown(socket, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := Dial(t.Context(), socket); !errors.Is(err, ErrNotOurDaemon) {
			t.Errorf("Dial of a socket file owned by uid 65534: %v, want ErrNotOurDaemon", err)
		}
	}
}
