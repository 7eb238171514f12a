package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// BenchmarkRecordRun records one run of one item with 500 findings, each round
// replacing one of them (a new and a resolved finding), on each engine: the cost of a
// run's commit on PostgreSQL next to bbolt.
func BenchmarkRecordRun(b *testing.B) {
	const findings = 500
	for _, name := range []string{"bbolt", "postgres"} {
		b.Run(name, func(b *testing.B) {
			if name == "postgres" && pgEnv == nil {
				b.Skip("no PostgreSQL test server: " + pgReason)
			}
			var db *DB
			var err error
			if name == "postgres" {
				db, err = OpenPostgres(context.Background(), pgEnv.NewDatabase(b), Options{})
			} else {
				db, err = Open(filepath.Join(b.TempDir(), FileName), Options{})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			round := 0
			record := func() {
				round++
				fs := make([]checks.Finding, findings)
				for j := range fs {
					id := j
					if j == 0 {
						id = 1000 + round
					}
					fs[j] = checks.Finding{Resource: fmt.Sprintf("pod/ns/p-%d", id), Problem: "crashloop", Severity: checks.High, Summary: "restarting", Evidence: map[string]string{"reason": "CrashLoopBackOff"}}
				}
				now := time.Now()
				err := db.Update(context.Background(), func(tx *Tx) error {
					seq, err := tx.BeginRun(Receipt{Item: "item", Check: "k8s.pods.unhealthy", Pos: "HB.md:1", Started: now})
					if err != nil {
						return err
					}
					_, err = tx.EndRun(seq, RunEnd{Ended: now, Status: checks.Fail, Findings: fs})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			record() // the first run makes every finding new
			for b.Loop() {
				record()
			}
			b.ReportMetric(findings, "findings/op")
		})
	}
}
