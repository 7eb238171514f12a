package leader

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/testenv/kubetest"
	"github.com/clankerd/clankerd/internal/testenv/pgtest"
)

// The real apiserver for the Lease tests and a real PostgreSQL for the advisory lock
// tests, both started once for the package.
var (
	kube       *kubetest.Env
	kubeReason string
	pg         *pgtest.Env
	pgReason   string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	ci := os.Getenv("CI") == "true"
	kdir, err := os.MkdirTemp("", "leaderkube")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(kdir)
	if kube, err = kubetest.Start(kdir); err != nil {
		if ci {
			fmt.Fprintln(os.Stderr, "CI=true and the Kubernetes test environment did not start:", err)
			return 1
		}
		kube, kubeReason = nil, err.Error()
	} else {
		defer kube.Stop()
	}
	pdir, err := os.MkdirTemp("", "leaderpg")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(pdir)
	if err := os.Chmod(pdir, 0o755); err != nil { // the server runs as nobody under root
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if pg, err = pgtest.Start(pdir); err != nil {
		if ci {
			fmt.Fprintln(os.Stderr, "CI=true and the PostgreSQL test environment did not start:", err)
			return 1
		}
		pg, pgReason = nil, err.Error()
	} else {
		defer pg.Stop()
	}
	return m.Run()
}

// leaders watches lead calls across electors: how many lead at once (never more than
// one), and who leads since when.
type leaders struct {
	now     atomic.Int32
	overlap atomic.Bool

	mu    sync.Mutex
	who   string
	since time.Time
	ended time.Time // when the last lead call returned
}

// lead is the lead function of the elector with identity id.
func (l *leaders) lead(id string) func(ctx context.Context) {
	return func(ctx context.Context) {
		if l.now.Add(1) > 1 {
			l.overlap.Store(true)
		}
		l.mu.Lock()
		l.who, l.since = id, time.Now()
		l.mu.Unlock()
		<-ctx.Done()
		l.mu.Lock()
		if l.who == id {
			l.who = ""
		}
		l.ended = time.Now()
		l.mu.Unlock()
		l.now.Add(-1)
	}
}

// current is who leads ("" nobody) and since when.
func (l *leaders) current() (string, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.who, l.since
}

// waitLeader waits until someone other than not leads and returns who, since when.
func (l *leaders) waitLeader(t *testing.T, not string, within time.Duration) (string, time.Time) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if who, since := l.current(); who != "" && who != not {
			return who, since
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no new leader (other than %q) within %v", not, within)
	return "", time.Time{}
}

// gap is how long nobody led before the leader that started at since.
func (l *leaders) gap(since time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return since.Sub(l.ended)
}

// replica is one elector running in the test.
type replica struct {
	id     string
	e      Elector
	cancel context.CancelFunc
	done   chan error
}

// start runs e until the test ends or the replica is stopped.
func start(t *testing.T, id string, e Elector, l *leaders) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{id: id, e: e, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- e.Run(ctx, l.lead(id)) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the replica's Run and waits for it to return.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("%s: Run: %v", r.id, err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("%s: Run did not return within 15s of its context ending", r.id)
	}
}

// checkOne asserts that exactly the replica who reports leading, and that
// everyone's Leader names it once they have observed it.
func checkOne(t *testing.T, who string, rs ...*replica) {
	t.Helper()
	for _, r := range rs {
		if r.e.IsLeader() != (r.id == who) {
			t.Errorf("%s: IsLeader = %v, but %s leads", r.id, r.e.IsLeader(), who)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, r := range rs {
		for r.e.Leader() != who && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := r.e.Leader(); got != who {
			t.Errorf("%s: Leader = %q, want %q", r.id, got, who)
		}
	}
}
