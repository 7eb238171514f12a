package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/control"
)

// TestDaemonKill9KeepsNotifications kills the daemon while notifications wait for a
// receiver that is down, and while one is in flight, and checks that the restarted
// daemon delivers every one of them, a repeat only with the same idempotency key.
func TestDaemonKill9KeepsNotifications(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	hook := newHookReceiver(t, "s3cret")
	hook.setDown(true)
	cfg := filepath.Join(dir, "notify.yaml")
	writeFile(t, cfg, fmt.Sprintf("delivery:\n  retry_initial: 100ms\n  retry_max: 300ms\ntargets:\n  - name: ops\n    type: webhook\n    url: %s/hook\n    secret_env: TEST_HOOK_SECRET\n", hook.URL))
	target := filepath.Join(dir, "target.txt")
	writeFile(t, target, "v1")
	hb := filepath.Join(dir, "HEARTBEAT.md")
	closed := closedPort(t)
	writeFile(t, hb, fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s timeout=1s\n\n## Tasks hourly\n- `test.file.set` path=%s content=v2\n", closed, target))
	env := []string{"TEST_HOOK_SECRET=s3cret"}
	args := []string{"--heartbeat", hb, "--notify-config", cfg}
	status := func() control.Status {
		var st control.Status
		jsonOut(t, state, 0, &st, "status")
		return st
	}

	// The daemon finds a problem; the receiver is down: the news waits.
	d := startDaemonEnv(t, env, state, args...)
	var check checkOutput
	jsonOut(t, state, 0, &check, "check", hb, "--only", "test.file.set")
	waitFor(t, 20*time.Second, "two undelivered notifications, tried and failed", func() bool {
		_, _, attempts, _ := hook.state()
		return status().OutboxDepth == 2 && attempts >= 2
	})
	d.stop(t, syscall.SIGKILL, 10*time.Second)

	// Without a daemon nothing is sent, and nothing was lost.
	hook.setDown(false)
	if st := status(); st.OutboxDepth != 2 {
		t.Fatalf("outbox depth after kill -9 = %d, want 2", st.OutboxDepth)
	}
	d = startDaemonEnv(t, env, state, args...)
	waitFor(t, 20*time.Second, "the delivery of both after the restart", func() bool {
		a, _, _, _ := hook.state()
		return len(a) == 2 && status().OutboxDepth == 0
	})
	accepted, bodies, _, problems := hook.state()
	if len(problems) > 0 {
		t.Errorf("receiver problems: %v", problems)
	}
	var kinds []string
	for _, b := range bodies {
		kinds = append(kinds, fmt.Sprint(b["kind"]))
	}
	slices.Sort(kinds)
	if fmt.Sprint(kinds) != "[plan run]" {
		t.Errorf("delivered kinds = %v, want a plan and a run", kinds)
	}
	for k, n := range accepted {
		if n != 1 {
			t.Errorf("key %s accepted %d times", k, n)
		}
	}

	// Killed while a delivery is in flight (the receiver took it, the daemon did not
	// record it): after the restart it is sent again, with the same key.
	hook.setHold(true)
	writeFile(t, hb, fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s timeout=1s\n- `tcp.connect` addr=%s timeout=1s\n", closed, closedPort(t)))
	var held string
	waitFor(t, 20*time.Second, "a third notification in flight", func() bool {
		a, _, _, _ := hook.state()
		for k := range a {
			if _, seen := accepted[k]; !seen {
				held = k
			}
		}
		return held != ""
	})
	d.stop(t, syscall.SIGKILL, 10*time.Second)
	hook.setHold(false)
	d = startDaemonEnv(t, env, state, args...)
	waitFor(t, 20*time.Second, "the in-flight notification to be sent again", func() bool {
		a, _, _, _ := hook.state()
		return a[held] == 2 && status().OutboxDepth == 0
	})
	a, _, _, _ := hook.state()
	if len(a) != 3 {
		t.Errorf("keys accepted = %v, want 3 distinct: a repeat must carry the same key", a)
	}
	if r := cli(t, state, "audit", "verify"); r.code != 0 {
		t.Errorf("audit verify: %+v", r)
	}
	d.stop(t, syscall.SIGTERM, 20*time.Second)
}
