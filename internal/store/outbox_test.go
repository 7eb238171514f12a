package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// enqueue queues an event about a run of item.
func enqueue(t *testing.T, db *DB, item string) {
	t.Helper()
	mustUpdate(t, db, func(tx *Tx) error {
		return tx.Enqueue(OutboxEvent{Kind: EventRun, Item: item, Pos: "HB.md:1", Run: 1, Status: checks.Fail})
	})
}

func TestOutboxCommitsWithTheRun(t *testing.T) {
	db, clk := openTest(t, Options{})
	select {
	case <-db.OutboxSignal():
		t.Fatal("signal before anything was queued")
	default:
	}
	// A transaction that fails takes its event with it, and signals nothing.
	err := db.Update(t.Context(), func(tx *Tx) error {
		if err := tx.Enqueue(OutboxEvent{Kind: EventRun, Item: "item1", Pos: "HB.md:1", Run: 1}); err != nil {
			return err
		}
		return errors.New("rolled back")
	})
	if err == nil {
		t.Fatal("the transaction did not fail")
	}
	select {
	case <-db.OutboxSignal():
		t.Error("a rolled-back transaction signalled the sender")
	default:
	}
	mustView(t, db, func(tx *Tx) error {
		if n := tx.OutboxDepth(); n != 0 {
			t.Errorf("a rolled-back transaction left %d events", n)
		}
		return nil
	})
	enqueue(t, db, "item1")
	select {
	case <-db.OutboxSignal():
	default:
		t.Error("no signal after an event was queued")
	}
	mustView(t, db, func(tx *Tx) error {
		evs, err := tx.Outbox(0)
		if len(evs) != 1 || !strings.HasPrefix(evs[0].ID, "n-") || evs[0].Run == 0 || evs[0].Pos != "HB.md:1" || !evs[0].Created.Equal(clk.Now()) {
			t.Errorf("event = %+v", evs)
		}
		return err
	})
}

func TestDeliveries(t *testing.T) {
	db, clk := openTest(t, Options{})
	for i := range 3 {
		enqueue(t, db, fmt.Sprint("item", i))
	}
	var evs []OutboxEvent
	mustView(t, db, func(tx *Tx) error {
		var err error
		evs, err = tx.Outbox(2)
		if n := tx.OutboxDepth(); n != 3 {
			t.Errorf("depth = %d", n)
		}
		return err
	})
	if len(evs) != 2 || evs[0].Seq >= evs[1].Seq {
		t.Fatalf("Outbox(2) = %+v", evs)
	}
	seq := evs[0].Seq
	mustUpdate(t, db, func(tx *Tx) error {
		return errors.Join(
			tx.PutDelivery(seq, "hook", Delivery{Attempts: 1, LastError: "HTTP 503", NextAttempt: clk.Now().Add(time.Second)}),
			tx.PutDelivery(seq, "hook", Delivery{Attempts: 2, Outcome: Delivered, Done: clk.Now()}),
			tx.PutDelivery(seq, "slack", Delivery{Attempts: 1, LastError: "HTTP 404", Outcome: DeliveryFailed, Done: clk.Now()}),
		)
	})
	mustView(t, db, func(tx *Tx) error {
		ds, err := tx.Deliveries(seq)
		if len(ds) != 2 || ds["hook"].Outcome != Delivered || ds["slack"].Outcome != DeliveryFailed {
			t.Errorf("deliveries = %+v", ds)
		}
		other, err2 := tx.Deliveries(evs[1].Seq)
		if len(other) != 0 {
			t.Errorf("deliveries of another event = %+v", other)
		}
		sts, err3 := tx.TargetStates()
		want := []TargetState{
			{Name: "hook", Delivered: 1, LastDelivered: clk.Now(), LastError: "HTTP 503", LastErrorAt: clk.Now()},
			{Name: "slack", Failed: 1, LastError: "HTTP 404", LastErrorAt: clk.Now()},
		}
		if fmt.Sprint(sts) != fmt.Sprint(want) {
			t.Errorf("target states = %+v, want %+v", sts, want)
		}
		return errors.Join(err, err2, err3)
	})
	mustUpdate(t, db, func(tx *Tx) error { return tx.FinishEvent(seq) })
	mustView(t, db, func(tx *Tx) error {
		ds, err := tx.Deliveries(seq)
		if len(ds) != 0 || tx.OutboxDepth() != 2 {
			t.Errorf("after finish: deliveries %+v, depth %d", ds, tx.OutboxDepth())
		}
		return err
	})
	err := db.Update(t.Context(), func(tx *Tx) error { return tx.PutDelivery(seq, "hook", Delivery{}) })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("delivery of a finished event: %v", err)
	}
}
