package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/testenv/pgtest"
)

// startPostgres starts a PostgreSQL test server for one test (skipped, or failed
// under CI=true, when it cannot start).
func startPostgres(t *testing.T) *pgtest.Env {
	t.Helper()
	dir, err := os.MkdirTemp("", "clankerd-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // the server may run as nobody
		t.Fatal(err)
	}
	env, err := pgtest.Start(dir)
	if err != nil {
		pgtest.Require(t, nil, err.Error())
	}
	t.Cleanup(env.Stop)
	return env
}

func TestStoreOnPostgres(t *testing.T) {
	pg := startPostgres(t)

	t.Run("findings lifecycle through CLANKERD_STORE", func(t *testing.T) {
		dsn, state := pg.NewDatabase(t), t.TempDir()
		hb := filepath.Join(t.TempDir(), "HEARTBEAT.md")
		writeFile(t, hb, fmt.Sprintf("## Every 5 minutes\n- `tcp.connect` addr=%s timeout=2s\n", closedPort(t)))
		env := []string{"CLANKERD_STORE=" + dsn}
		states := func() string {
			t.Helper()
			r := cliEnv(t, env, state, "check", hb, "-o", "json")
			var out checkOutput
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 || len(out.Results) != 1 || len(out.Results[0].Findings) != 1 {
				t.Fatalf("check: %+v (%v)", r, err)
			}
			return out.Results[0].Findings[0].State
		}
		if first, second := states(), states(); first != "new" || second != "unchanged" {
			t.Errorf("two checks: findings %s then %s, want new then unchanged", first, second)
		}
		if _, err := os.Stat(filepath.Join(state, "state.db")); err == nil {
			t.Error("a state.db was made in the state directory although the state is in PostgreSQL")
		}
		r := cliEnv(t, env, state, "status")
		if r.code != 0 || !strings.Contains(r.stdout, "database: postgres://") {
			t.Errorf("status: %+v", r)
		}
		if r := cli(t, state, "--store", dsn, "store", "migrate"); r.code != 0 || !strings.Contains(r.stdout, "schema migration 1 → 1") {
			t.Errorf("store migrate: %+v", r)
		}
		if r := cli(t, state, "store", "migrate"); r.code != 3 {
			t.Errorf("store migrate without a PostgreSQL store: exit %d, want 3", r.code)
		}
	})

	t.Run("run --store records in PostgreSQL", func(t *testing.T) {
		dsn, state := pg.NewDatabase(t), t.TempDir()
		hb := filepath.Join(t.TempDir(), "HEARTBEAT.md")
		writeFile(t, hb, fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s timeout=1s\n", closedPort(t)))
		d := startDaemon(t, state, "--store", dsn, "--heartbeat", hb)
		var runs struct {
			Runs []struct{ Status string } `json:"runs"`
		}
		waitFor(t, 30*time.Second, "two failed runs recorded by the daemon", func() bool {
			jsonOut(t, state, 0, &runs, "runs")
			failed := 0
			for _, r := range runs.Runs {
				if r.Status == "fail" {
					failed++
				}
			}
			return failed >= 2
		})
		d.stop(t, syscall.SIGTERM, 30*time.Second)
		if _, err := os.Stat(filepath.Join(state, "state.db")); err == nil {
			t.Error("the daemon made a state.db although the state is in PostgreSQL")
		}
		var findings struct {
			Findings []struct{ State string } `json:"findings"`
		}
		jsonOut(t, state, 0, &findings, "--store", dsn, "findings")
		if len(findings.Findings) != 1 || findings.Findings[0].State != "unchanged" {
			t.Errorf("findings in PostgreSQL after the daemon stopped: %+v", findings)
		}
	})

	t.Run("two replicas on one store: one leads and the other takes over after kill -9", func(t *testing.T) {
		dsn := pg.NewDatabase(t)
		hb := filepath.Join(t.TempDir(), "HEARTBEAT.md")
		writeFile(t, hb, fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s timeout=1s\n", closedPort(t)))
		replica := func() *daemonProc {
			return startDaemon(t, t.TempDir(), "--store", dsn, "--heartbeat", hb, "--leader-elect", "--leader-elect-via", "postgres")
		}
		a, b := replica(), replica()
		waitFor(t, 30*time.Second, "one replica leading", func() bool { return leads(a) || leads(b) })
		leader, other := a, b
		if !leads(a) {
			leader, other = b, a
		}
		reader := t.TempDir() // no daemon here: the CLI reads PostgreSQL itself
		runs := func() []storeReceipt { return storeRuns(t, reader, dsn) }
		waitFor(t, 30*time.Second, "the leader's first runs", func() bool { return len(runs()) >= 2 })
		if leads(other) {
			t.Fatal("both replicas lead")
		}
		if err := leader.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-leader.done
		before := len(runs())
		waitFor(t, 60*time.Second, "the other replica to take over and run", func() bool { return leads(other) && len(runs()) >= before+2 })
		other.stop(t, syscall.SIGTERM, 30*time.Second)
		eachTickOnce(t, runs())
		if r := cli(t, reader, "--store", dsn, "audit", "verify"); r.code != 0 {
			t.Errorf("audit verify after the take-over: %+v", r)
		}
	})

	t.Run("copy from bbolt round-trips", func(t *testing.T) {
		laptop, dsn := t.TempDir(), pg.NewDatabase(t)
		hb := filepath.Join(t.TempDir(), "HEARTBEAT.md")
		writeFile(t, hb, fmt.Sprintf("## Every 5 minutes\n- `tcp.connect` addr=%s timeout=2s\n", closedPort(t)))
		cli(t, laptop, "check", hb)
		cli(t, laptop, "check", hb)
		taskHB, _ := fileTask(t, "Tasks", "v2")
		applied := queuePlan(t, laptop, taskHB)
		if r := cli(t, laptop, "approve", applied, "--yes"); r.code != 0 {
			t.Fatalf("approve: %+v", r)
		}
		pending := queuePlan(t, laptop, taskHB)
		var findings struct {
			Findings []struct{ Fingerprint string } `json:"findings"`
		}
		jsonOut(t, laptop, 0, &findings, "findings")
		if r := cli(t, laptop, "mute", findings.Findings[0].Fingerprint, "--for", "7d", "--reason", "known"); r.code != 0 {
			t.Fatalf("mute: %+v", r)
		}

		read := func(state string, extra ...string) map[string]string {
			t.Helper()
			out := map[string]string{}
			for _, cmd := range [][]string{{"findings", "--state", "all"}, {"plans"}, {"runs"}, {"mutes", "--all"}, {"audit", "--limit", "0"}} {
				r := cli(t, state, append(append(extra, cmd...), "-o", "json")...)
				if r.code != 0 {
					t.Fatalf("%v: %+v", cmd, r)
				}
				out[cmd[0]] = r.stdout
			}
			return out
		}
		want := read(laptop)

		var res struct {
			Buckets []struct {
				Bucket string
				Keys   int
			}
			AuditRecords int `json:"audit_records"`
		}
		jsonOut(t, laptop, 0, &res, "store", "copy", "--from", "bbolt:"+laptop, "--to", dsn)
		keys := map[string]int{}
		for _, b := range res.Buckets {
			keys[b.Bucket] = b.Keys
		}
		if keys["runs"] != 4 || keys["plans"] != 2 || keys["mutes"] != 1 || res.AuditRecords == 0 {
			t.Errorf("copied %+v", res)
		}
		// The laptop's state directory (its key and audit checkpoint) with the copied
		// history in PostgreSQL: the same answers, and the chain verifies.
		got := read(laptop, "--store", dsn)
		for cmd := range want {
			if got[cmd] != want[cmd] {
				t.Errorf("%s after the copy:\n%s\nwant\n%s", cmd, got[cmd], want[cmd])
			}
		}
		if r := cli(t, laptop, "--store", dsn, "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "audit chain intact") {
			t.Errorf("audit verify on the copy: %+v", r)
		}
		if r := cli(t, laptop, "--store", dsn, "approve", pending, "--yes"); r.code != 0 {
			t.Errorf("approving a copied plan in PostgreSQL: %+v", r)
		}
		if r := cli(t, laptop, "store", "copy", "--from", "bbolt:"+laptop, "--to", dsn); r.code != 4 || !strings.Contains(r.stderr, "not empty") {
			t.Errorf("copy into a non-empty store: %+v", r)
		}
	})
}

// leads says whether a replica's log says it started leading.
func leads(d *daemonProc) bool { return strings.Contains(d.logs.String(), "leading: scheduling") }

// storeReceipt is what the replica tests read of a receipt.
type storeReceipt struct{ Item, Status, Trigger, Scheduled string }

// storeRuns lists every receipt of the store at dsn, read by the CLI itself (no daemon
// in state).
func storeRuns(t *testing.T, state, dsn string) []storeReceipt {
	t.Helper()
	var out struct{ Runs []storeReceipt }
	jsonOut(t, state, 0, &out, "--store", dsn, "runs", "--limit", "0")
	return out.Runs
}

// eachTickOnce fails the test when a scheduled tick of an item has two receipts.
func eachTickOnce(t *testing.T, runs []storeReceipt) {
	t.Helper()
	ticks := map[string]int{}
	for _, r := range runs {
		if r.Trigger == "schedule" {
			ticks[r.Item+" "+r.Scheduled]++
		}
	}
	for tick, n := range ticks {
		if n > 1 {
			t.Errorf("tick %s ran %d times", tick, n)
		}
	}
}
