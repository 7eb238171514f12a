package daemon

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
)

// countCheck passes and counts its runs.
type countCheck struct{ runs *atomic.Int64 }

func (c countCheck) Spec() checks.Spec { return checks.Spec{ID: "t.count", Description: "counts"} }
func (c countCheck) Run(context.Context, checks.Params) (checks.Result, error) {
	c.runs.Add(1)
	return checks.Result{}, nil
}

// handElector is an elector the test hands leadership to and takes it from.
type handElector struct {
	grant, revoke chan struct{}
	leading       atomic.Bool
	terms         atomic.Int64
}

func newHandElector() *handElector {
	return &handElector{grant: make(chan struct{}), revoke: make(chan struct{})}
}

func (e *handElector) Run(ctx context.Context, lead func(context.Context)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.grant:
		}
		termCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		e.leading.Store(true)
		e.terms.Add(1)
		wg.Go(func() { lead(termCtx) })
		select {
		case <-ctx.Done():
		case <-e.revoke:
		}
		e.leading.Store(false)
		cancel()
		wg.Wait()
	}
}

func (e *handElector) IsLeader() bool { return e.leading.Load() }
func (e *handElector) Leader() string {
	if e.leading.Load() {
		return e.ID()
	}
	return ""
}
func (e *handElector) ID() string { return "replica-a" }

// TestOnlyTheLeaderSchedules: a replica in an election serves but runs nothing until
// it leads, stops scheduling when leadership is lost, and starts again from the
// store's record of its last tick when it leads again, without running a tick twice.
func TestOnlyTheLeaderSchedules(t *testing.T) {
	dir := t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	if err := os.WriteFile(hb, []byte("## Every 1 second\n- `t.count`\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	reg := checks.NewRegistry()
	if err := reg.AddCheck(countCheck{&runs}); err != nil {
		t.Fatal(err)
	}
	el := newHandElector()
	state := filepath.Join(dir, "state")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Heartbeats: []string{hb}, StateDir: state, Registry: reg, Version: "test", Elector: el, HandOver: 500 * time.Millisecond})
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	time.Sleep(2500 * time.Millisecond)
	if n := runs.Load(); n != 0 {
		t.Fatalf("a replica that does not lead ran %d checks", n)
	}
	el.grant <- struct{}{}
	wait("runs while leading", func() bool { return runs.Load() >= 2 })
	el.revoke <- struct{}{}
	time.Sleep(time.Second) // the hand-over lets a run in flight end
	stopped := runs.Load()
	time.Sleep(2500 * time.Millisecond)
	if n := runs.Load(); n != stopped {
		t.Fatalf("%d runs after leadership was lost", n-stopped)
	}
	el.grant <- struct{}{}
	wait("runs in the second term", func() bool { return runs.Load() >= stopped+2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("daemon: %v", err)
	}

	db, err := store.Open(filepath.Join(state, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var receipts []store.Receipt
	if err := db.View(t.Context(), func(tx *store.Tx) error {
		var err error
		receipts, err = tx.Runs(store.RunFilter{Check: "t.count"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[time.Time]bool{}
	for _, r := range receipts {
		if seen[r.Scheduled] {
			t.Errorf("tick %s ran twice", r.Scheduled)
		}
		seen[r.Scheduled] = true
		if r.Status != checks.Pass {
			t.Errorf("run %d: %s %s", r.Seq, r.Status, r.Error)
		}
	}
	if int64(len(receipts)) != runs.Load() {
		t.Errorf("%d receipts for %d runs", len(receipts), runs.Load())
	}
	if el.terms.Load() != 2 {
		t.Errorf("terms = %d", el.terms.Load())
	}
}
