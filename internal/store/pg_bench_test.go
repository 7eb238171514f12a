package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
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
				recordRun(b, db, "item", time.Now(), benchFindings(findings, round))
			}
			record() // the first run makes every finding new
			for b.Loop() {
				record()
			}
			b.ReportMetric(findings, "findings/op")
		})
	}
}
