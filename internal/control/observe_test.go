package control

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
)

// Each committed run end reports how long its transaction took; a refused one does not.
func TestEndRunObservesTheRecordTime(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var took []time.Duration
	var ended []store.Receipt
	l := &Local{DB: db, ObserveRecord: func(d time.Duration) { took = append(took, d) }, Observe: func(r store.Receipt) { ended = append(ended, r) }}
	ctx := t.Context()
	seq, err := l.beginRun(ctx, store.Receipt{Item: "i1", Check: "tcp.connect", Pos: "HB.md:2", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.endRun(ctx, RunEnd{Seq: seq, End: store.RunEnd{Status: checks.Pass, Ended: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if len(took) != 1 || took[0] <= 0 || len(ended) != 1 {
		t.Fatalf("after one run: record times %v, receipts %d; want one positive time and one receipt", took, len(ended))
	}
	if _, err := l.endRun(ctx, RunEnd{Seq: seq + 100, End: store.RunEnd{Status: checks.Pass, Ended: time.Now()}}); err == nil {
		t.Fatal("EndRun of an unknown run succeeded")
	}
	if len(took) != 1 {
		t.Errorf("a refused EndRun was observed: %v", took)
	}
}
