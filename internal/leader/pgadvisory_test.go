package leader

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clankerd/clankerd/internal/testenv/pgtest"
)

func TestAdvisoryKey(t *testing.T) {
	tests := []struct{ a, b string }{{"clankerd", "other"}, {"", "clankerd/"}}
	for _, tt := range tests {
		if AdvisoryKey(tt.a) == AdvisoryKey(tt.b) {
			t.Errorf("AdvisoryKey(%q) == AdvisoryKey(%q)", tt.a, tt.b)
		}
		if AdvisoryKey(tt.a) != AdvisoryKey(tt.a) {
			t.Errorf("AdvisoryKey(%q) is not stable", tt.a)
		}
	}
}

func TestPGAdvisoryHandover(t *testing.T) {
	pgtest.Require(t, pg, pgReason)
	const retry = 300 * time.Millisecond
	// A replica that gets the lock waits 2.5 retries before leading.
	grace := 2*retry + retry/2
	tests := []struct {
		name string
		// fail ends the leader's hold on the lock.
		fail     func(t *testing.T, old *replica)
		min, max time.Duration
	}{
		{"run cancelled", func(t *testing.T, old *replica) { old.stop(t) }, grace, grace + 2*retry + time.Second},
		{"backend terminated", terminateBackend, grace, grace + 3*retry + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := pg.NewDatabase(t)
			var l leaders
			name := "test-" + t.Name()
			a := start(t, "a", &PGAdvisory{DSN: dsn, Name: name, Identity: "a", RetryPeriod: retry}, &l)
			b := start(t, "b", &PGAdvisory{DSN: dsn, Name: name, Identity: "b", RetryPeriod: retry}, &l)
			first, _ := l.waitLeader(t, "", 10*time.Second)
			checkOne(t, first, a, b)
			old, next := a, b
			if first == "b" {
				old, next = b, a
			}
			time.Sleep(5 * retry)
			if who, _ := l.current(); who != first {
				t.Fatalf("leadership moved from %s to %q without a failure", first, who)
			}
			failed := time.Now()
			tt.fail(t, old)
			who, since := l.waitLeader(t, first, tt.max+5*time.Second)
			took := since.Sub(failed)
			t.Logf("%s took over %v after %s failed, %v after it stopped leading", who, took, first, l.gap(since))
			if who != next.id {
				t.Fatalf("new leader %q, want %s", who, next.id)
			}
			if took < tt.min || took > tt.max {
				t.Errorf("handover took %v, want between %v and %v", took, tt.min, tt.max)
			}
			checkOne(t, next.id, next)
			if old.e.IsLeader() {
				t.Errorf("%s still reports leading after losing its session", old.id)
			}
			a.stop(t)
			b.stop(t)
			if n := l.now.Load(); n != 0 {
				t.Errorf("%d lead calls still running after every Run returned", n)
			}
			if l.overlap.Load() {
				t.Error("two replicas led at the same time")
			}
		})
	}
}

// terminateBackend kills the PostgreSQL session of the replica, as a server restart
// or a dead network would end it.
func terminateBackend(t *testing.T, r *replica) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = $1", r.id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("terminated %d sessions of %s, want 1", n, r.id)
	}
}
