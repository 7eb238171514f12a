package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
)

const (
	benchItems           = 1000
	benchFindingsPerItem = 100
)

// recordRound records one completed run per item with benchFindingsPerItem findings;
// round r>0 replaces one finding per item (1% new, 1% resolved).
func recordRound(tb testing.TB, db *DB, round int) {
	tb.Helper()
	now := time.Now()
	for i := range benchItems {
		item := fmt.Sprintf("item-%04d", i)
		recordRun(tb, db, item, now, benchFindings(benchFindingsPerItem, round))
	}
}

// recordRun records one failed run of item with the findings.
func recordRun(tb testing.TB, db *DB, item string, now time.Time, fs []checks.Finding) {
	tb.Helper()
	err := db.Update(context.Background(), func(tx *Tx) error {
		seq, err := tx.BeginRun(Receipt{Item: item, Check: "k8s.pods.unhealthy", Pos: "HB.md:1", Started: now})
		if err != nil {
			return err
		}
		_, err = tx.EndRun(seq, RunEnd{Ended: now, Status: checks.Fail, Findings: fs})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// benchFindings are n findings of one run; round r>0 replaces the first one.
func benchFindings(n, round int) []checks.Finding {
	fs := make([]checks.Finding, n)
	for j := range fs {
		id := j
		if j == 0 {
			id = 1000 + round
		}
		fs[j] = checks.Finding{Resource: fmt.Sprintf("pod/ns/p-%d", id), Problem: "crashloop", Severity: checks.High, Summary: "restarting", Evidence: map[string]string{"reason": "CrashLoopBackOff"}}
	}
	return fs
}

// BenchmarkRecordFindings records 100k findings: 1000 runs of 100 findings each.
func BenchmarkRecordFindings(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		db, err := Open(filepath.Join(b.TempDir(), "state.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		recordRound(b, db, 0)
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(benchItems*benchFindingsPerItem, "findings/op")
}

// BenchmarkQueryNew queries what is new since the last run among 100k findings after
// a second round in which 1% of them are new.
func BenchmarkQueryNew(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "state.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	recordRound(b, db, 0)
	recordRound(b, db, 1)
	b.Run("state=new", func(b *testing.B) {
		for b.Loop() {
			err := db.View(context.Background(), func(tx *Tx) error {
				fs, err := tx.Findings(FindingFilter{States: []FindingState{FindingNew}})
				if len(fs) != benchItems {
					b.Fatalf("got %d new findings, want %d", len(fs), benchItems)
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	// Baseline: decode every finding and filter in Go, as a store without indexes would.
	b.Run("full-scan-baseline", func(b *testing.B) {
		for b.Loop() {
			err := db.View(context.Background(), func(tx *Tx) error {
				all, err := tx.Findings(FindingFilter{})
				n := 0
				for _, f := range all {
					if f.State == FindingNew {
						n++
					}
				}
				if n != benchItems {
					b.Fatalf("got %d new findings, want %d", n, benchItems)
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("diff", func(b *testing.B) {
		for b.Loop() {
			err := db.View(context.Background(), func(tx *Tx) error {
				fs, err := tx.Diff()
				if len(fs) != 2*benchItems {
					b.Fatalf("diff has %d findings, want %d (new + resolved)", len(fs), 2*benchItems)
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
