package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	bin "encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// unkeyedDigest is the plan digest clankerd used before it was keyed: anyone who can
// write the database or the socket can compute it. The attacks below use it.
func unkeyedDigest(p checks.Plan) string {
	data, _ := json.Marshal(struct {
		Task     string            `json:"task"`
		Identity string            `json:"identity"`
		Params   map[string]string `json:"params"`
		Target   string            `json:"target"`
		Observed map[string]string `json:"observed"`
		Change   string            `json:"change"`
	}{p.Task, p.Params.Identity(), p.Params.Values(), p.Target, p.Observed, p.Change})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// evilRecord is the stored plan record raw with content=EVIL, expiry 2099 and its
// unkeyed digest recomputed.
func evilRecord(t *testing.T, raw []byte) []byte {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	rec["params"].(map[string]any)["values"].(map[string]any)["content"] = "EVIL"
	rec["change"] = `content "v1" → "EVIL"`
	rec["expires_at"] = "2099-01-01T00:00:00Z"
	edited, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var plan checks.Plan
	if err := json.Unmarshal(edited, &plan); err != nil {
		t.Fatal(err)
	}
	rec["digest"] = unkeyedDigest(plan)
	edited, err = json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return edited
}

// postSocket sends body to the daemon's operation op as any process of the user could,
// and returns the HTTP status and answer.
func postSocket(t *testing.T, state, op string, body []byte) (int, string) {
	t.Helper()
	socket := filepath.Join(state, control.SocketName)
	hc := socketHTTP(socket)
	defer hc.CloseIdleConnections()
	resp, err := hc.Post("http://clankerd/v1/"+op, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

// TestApproveBoundToReviewedPlan: while `clankerd approve ID` waits at its prompt on
// a terminal showing content=NEW, another process re-queues the same id through the
// daemon's socket with content=EVIL. Answering y must never apply EVIL.
func TestApproveBoundToReviewedPlan(t *testing.T) {
	keyboard, tty := openPty(t)
	state := t.TempDir()
	hb, target := fileTask(t, "Tasks hourly", "NEW")
	d := startDaemon(t, state, "--heartbeat", hb)
	id := queuePlan(t, state, hb)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	approve := exec.CommandContext(ctx, binary, "--state-dir", state, "approve", id)
	var stdout, stderr syncBuffer
	approve.Stdin, approve.Stdout, approve.Stderr = tty, &stdout, &stderr
	if err := approve.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "approve's prompt", func() bool { return strings.Contains(stderr.String(), "[y/N]") })
	if !strings.Contains(stdout.String(), "NEW") {
		t.Fatalf("approve did not show the plan it asks about:\n%s", stdout.String())
	}

	// The attack as it worked before: the whole record, id and recomputed digest
	// included, sent to the queue operation, without the item (so the queue does not
	// answer with the item's pending plan).
	c, err := control.Dial(ctx, filepath.Join(state, control.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	shown, err := control.OpPlan.Do(ctx, c, id)
	if err != nil {
		t.Fatal(err)
	}
	shown.Item = ""
	raw, _ := json.Marshal(shown)
	replay, _ := json.Marshal(map[string]any{"plan": json.RawMessage(evilRecord(t, raw)), "actor": "attacker"})
	status, answer := postSocket(t, state, "queue_plan", replay)
	t.Logf("re-queue of %s with content=EVIL: HTTP %d %s", id, status, answer)
	if status != http.StatusBadRequest {
		t.Errorf("the queue operation took a whole plan record: HTTP %d %s", status, answer)
	}
	// Nor can a draft name the id, state, expiry or digest of the plan it makes.
	smuggled, _ := json.Marshal(map[string]any{"draft": json.RawMessage(evilRecord(t, raw)), "actor": "attacker"})
	if status, answer := postSocket(t, state, "queue_plan", smuggled); status != http.StatusBadRequest || !strings.Contains(answer, "unknown field") {
		t.Errorf("a draft naming the plan's id: HTTP %d %s", status, answer)
	}
	// What a caller may send, the drafted change, becomes a plan of its own.
	evil := shown.Plan
	evil.Params = checks.NewParams(map[string]string{"path": target, "content": "EVIL"})
	q, err := control.OpQueuePlan.Do(ctx, c, control.QueueRequest{Draft: tasks.Draft{Source: "cli", Plan: evil}, Actor: "attacker"})
	if err != nil || !q.Created || q.Plan.ID == id {
		t.Errorf("queueing the EVIL draft = %+v, %v; want a new plan with its own id", q, err)
	}

	if _, err := keyboard.Write([]byte("y\n")); err != nil {
		t.Fatal(err)
	}
	werr := approve.Wait()
	t.Logf("approve: %v\nstdout: %s\nstderr: %s", werr, stdout.String(), stderr.String())
	data, _ := os.ReadFile(target)
	if string(data) == "EVIL" {
		t.Fatalf("approve of the plan showing content=NEW applied EVIL")
	}
	if werr != nil || string(data) != "NEW" || !strings.Contains(stdout.String(), "applied: wrote") {
		t.Errorf("approve of the reviewed plan: %v, target %q", werr, data)
	}
	d.stop(t, syscall.SIGTERM, 20*time.Second)
}

// editBolt runs fn on the raw bbolt file while no clankerd holds it, as someone with
// write access to the state directory could.
func editBolt(t *testing.T, state string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	raw, err := bolt.Open(filepath.Join(state, store.FileName), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// TestApproveRefusesEditedPlan: a pending plan's parameters and expiry are edited in
// the database and its unkeyed digest recomputed; approve must refuse (exit 4) and
// change nothing.
func TestApproveRefusesEditedPlan(t *testing.T) {
	state := t.TempDir()
	hb, target := fileTask(t, "Tasks hourly", "NEW")
	id := queuePlan(t, state, hb)
	editBolt(t, state, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("plans"))
		return b.Put([]byte(id), evilRecord(t, b.Get([]byte(id))))
	})
	r := cli(t, state, "approve", id, "--yes")
	if data, _ := os.ReadFile(target); string(data) != "v1" {
		t.Fatalf("approve of an edited plan wrote %q (exit %d)\n%s", data, r.code, r.stderr)
	}
	if r.code != 4 || !strings.Contains(r.stderr, "does not match its digest") {
		t.Errorf("approve of an edited plan: %+v", r)
	}
}

// TestAuditTruncationDetected: the last records of the audit log (a plan's approved,
// applying, applied) are deleted and the head moved back in the database; `audit
// verify` must fail naming the missing records and the applied plan without them.
func TestAuditTruncationDetected(t *testing.T) {
	state := t.TempDir()
	hb, target := fileTask(t, "Tasks hourly", "NEW")
	rejected := queuePlan(t, state, hb)
	if r := cli(t, state, "reject", rejected, "--reason", "test"); r.code != 0 {
		t.Fatal(r)
	}
	id := queuePlan(t, state, hb)
	if r := cli(t, state, "approve", id, "--yes"); r.code != 0 {
		t.Fatal(r)
	}
	if data, _ := os.ReadFile(target); string(data) != "NEW" {
		t.Fatalf("target = %q", data)
	}
	var first, last uint64
	editBolt(t, state, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		c := b.Cursor()
		var keep []byte
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var r store.AuditRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if last == 0 {
				last = r.Seq
			}
			if r.Subject == id && r.Action == "plan.approved" {
				first = r.Seq
				_, prev := c.Prev()
				keep = bytes.Clone(prev)
				break
			}
		}
		var head store.AuditRecord
		if err := json.Unmarshal(keep, &head); err != nil {
			return err
		}
		for seq := first; seq <= last; seq++ {
			if err := b.Delete(bin.BigEndian.AppendUint64(nil, seq)); err != nil {
				return err
			}
		}
		if err := b.SetSequence(head.Seq); err != nil {
			return err
		}
		h, _ := json.Marshal(map[string]any{"seq": head.Seq, "hash": head.Hash})
		return tx.Bucket([]byte("meta")).Put([]byte("audit_head"), h)
	})
	if first == 0 {
		t.Fatal("no plan.approved record to cut")
	}
	r := cli(t, state, "audit", "verify")
	want := fmt.Sprintf("records %d..%d are missing", first, last)
	if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, id) {
		t.Errorf("audit verify after cutting records %d..%d: %+v", first, last, r)
	}
}
