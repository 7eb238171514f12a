package store

import (
	"bytes"
	"fmt"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// The notification outbox. The news rules (package notify, called through News by
// EndRun and PutPlan) queue target-agnostic events here in the transaction that records
// the run or the plan, so a crash can lose neither; the sender (package notify) fans
// each event out to the configured targets and records a Delivery per (event, target)
// until every target is done, then deletes the event. The erroring and held-back
// records are the news rules' memory between runs.

// EventKind says what an outbox event is about.
type EventKind string

// Event kinds.
const (
	// EventRun: a run changed findings worth telling, or its check started or stopped
	// erroring.
	EventRun EventKind = "run"
	// EventPlan: a plan is pending and waits for approval.
	EventPlan EventKind = "plan"
	// EventTest: a sample sent by `clankerd notify test`; never stored.
	EventTest EventKind = "test"
)

// Change is what happened to a finding, as news.
type Change string

// Changes that notify.
const (
	ChangeNew      Change = "new"
	ChangeWorse    Change = "worse"    // severity rose
	ChangeResolved Change = "resolved" // no longer found
	// ChangeUnmuted: still open after the mute that held back its news ended.
	ChangeUnmuted Change = "unmuted"
)

// Erroring transitions of a check.
const (
	ErroringStarted = "started"
	ErroringStopped = "stopped"
)

// FindingNotice is one finding in a notification.
type FindingNotice struct {
	Fingerprint  string          `json:"fingerprint"`
	Change       Change          `json:"change"`
	Resource     string          `json:"resource"`
	Problem      string          `json:"problem"`
	Severity     checks.Severity `json:"severity"`
	PrevSeverity checks.Severity `json:"previous_severity,omitempty"`
	Summary      string          `json:"summary"`
}

// PlanNotice is a pending plan in a notification.
type PlanNotice struct {
	ID        string      `json:"id"`
	Task      string      `json:"task"`
	Target    string      `json:"target"`
	Change    string      `json:"change"`
	Risk      checks.Risk `json:"risk"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// OutboxEvent is one piece of news waiting to be delivered.
type OutboxEvent struct {
	Seq uint64 `json:"seq"`
	// ID is the idempotency key: random, the same for every target and every retry.
	ID      string    `json:"id"`
	Kind    EventKind `json:"kind"`
	Created time.Time `json:"created"`
	Item    string    `json:"item,omitempty"`
	Check   string    `json:"check,omitempty"`
	Pos     string    `json:"pos,omitempty"`
	// Run is the receipt of the run the news is from.
	Run    uint64        `json:"run,omitempty"`
	Status checks.Status `json:"status,omitempty"`
	// Erroring is ErroringStarted or ErroringStopped when the check's ability to run
	// changed; Error is the run's error then.
	Erroring string          `json:"erroring,omitempty"`
	Error    string          `json:"error,omitempty"`
	Findings []FindingNotice `json:"findings,omitempty"`
	Plan     *PlanNotice     `json:"plan,omitempty"`
}

// Delivery outcomes.
const (
	Delivered = "delivered"
	// DeliverySkipped: the target does not want the event (below its minimum severity).
	DeliverySkipped = "skipped"
	// DeliveryFailed: the target refused it for good (a permanent error).
	DeliveryFailed = "failed"
	// DeliveryExpired: not delivered before the event's maximum age.
	DeliveryExpired = "expired"
)

// Delivery is the state of one event at one target.
type Delivery struct {
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Outcome is set once the target is done with the event.
	Outcome string    `json:"outcome,omitempty"`
	Done    time.Time `json:"done,omitzero"`
}

// TargetState sums up deliveries to one target, for `clankerd status`.
type TargetState struct {
	Name          string    `json:"name"`
	Delivered     int       `json:"delivered"`
	Failed        int       `json:"failed"`
	LastDelivered time.Time `json:"last_delivered,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
}

// OutboxSignal receives a value after a commit that queued events, here or, with
// PostgreSQL, in another process, so a sender can deliver at once instead of polling.
func (db *DB) OutboxSignal() <-chan struct{} { return db.outboxReady }

// Enqueue stores an event and signals the sender once the transaction commits. It
// assigns the event's sequence number, idempotency key and creation time.
func (tx *Tx) Enqueue(ev OutboxEvent) error {
	seq, err := tx.bucket(bucketOutbox).NextSequence()
	if err != nil {
		return err
	}
	ev.Seq, ev.ID, ev.Created = seq, "n-"+tx.db.newID(), tx.now()
	if err := tx.put(bucketOutbox, seqKey(seq), ev); err != nil {
		return err
	}
	tx.tx.OnCommit(tx.db.signalOutbox)
	tx.tx.Announce(outboxTopic)
	return nil
}

// outboxTopic is announced by every commit that queued events, so that the sender of
// another process sharing the store (the leader's) delivers them at once.
const outboxTopic = "clankerd_outbox"

// signalOutbox wakes the sender, unless it is already due to wake.
func (db *DB) signalOutbox() {
	select {
	case db.outboxReady <- struct{}{}:
	default:
	}
}

// Erroring reports whether the item's check was erroring at its last run that was not
// skipped, as SetErroring recorded it.
func (tx *Tx) Erroring(item string) bool {
	return tx.bucket(bucketNotifyErroring).Get([]byte(item)) != nil
}

// SetErroring records that the item's check started erroring at since, or with a zero
// since that it stopped.
func (tx *Tx) SetErroring(item string, since time.Time) error {
	b := tx.bucket(bucketNotifyErroring)
	if since.IsZero() {
		return b.Delete([]byte(item))
	}
	return b.Put([]byte(item), []byte(since.Format(time.RFC3339Nano)))
}

// HeldBack returns the fingerprints of the item's findings whose news a mute held back.
func (tx *Tx) HeldBack(item string) ([]string, error) {
	var out []string
	err := tx.scanPrefix(bucketNotifyMuted, []byte(item), func(fp []byte) error {
		out = append(out, string(fp))
		return nil
	})
	return out, err
}

// HoldBack records that mute held back the news of the item's finding fp; with an
// empty mute, that nothing holds it back any longer.
func (tx *Tx) HoldBack(item, fp, mute string) error {
	key := indexKey([]byte(item), []byte(fp))
	if mute == "" {
		return tx.bucket(bucketNotifyMuted).Delete(key)
	}
	return tx.bucket(bucketNotifyMuted).Put(key, []byte(mute))
}

// Outbox returns the events waiting for delivery, oldest first; at most limit of them
// when limit is above zero.
func (tx *Tx) Outbox(limit int) ([]OutboxEvent, error) {
	var out []OutboxEvent
	c := tx.bucket(bucketOutbox).Cursor()
	for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
		var ev OutboxEvent
		if err := tx.decode(bucketOutbox, k, v, &ev); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// OutboxDepth is how many events wait for delivery.
func (tx *Tx) OutboxDepth() int { return tx.bucket(bucketOutbox).Stats().KeyN }

// Deliveries returns the delivery state of an event, by target name.
func (tx *Tx) Deliveries(seq uint64) (map[string]Delivery, error) {
	out := map[string]Delivery{}
	err := tx.scanPrefix(bucketDeliveries, seqKey(seq), func(target []byte) error {
		var d Delivery
		if _, err := tx.get(bucketDeliveries, indexKey(seqKey(seq), target), &d); err != nil {
			return err
		}
		out[string(target)] = d
		return nil
	})
	return out, err
}

// PutDelivery records the state of an event at a target, and adds the attempt's
// outcome or error to the target's totals.
func (tx *Tx) PutDelivery(seq uint64, target string, d Delivery) error {
	if tx.bucket(bucketOutbox).Get(seqKey(seq)) == nil {
		return fmt.Errorf("notification event %d: %w (already delivered everywhere or expired)", seq, ErrNotFound)
	}
	if err := tx.put(bucketDeliveries, indexKey(seqKey(seq), []byte(target)), d); err != nil {
		return err
	}
	st, err := tx.targetState(target)
	if err != nil {
		return err
	}
	now := tx.now()
	switch d.Outcome {
	case Delivered:
		st.Delivered++
		st.LastDelivered = now
	case DeliveryFailed, DeliveryExpired:
		st.Failed++
	}
	if d.LastError != "" && d.Outcome != Delivered {
		st.LastError, st.LastErrorAt = d.LastError, now
	}
	return tx.put(bucketNotifyTargets, []byte(target), st)
}

func (tx *Tx) targetState(name string) (TargetState, error) {
	st := TargetState{Name: name}
	_, err := tx.get(bucketNotifyTargets, []byte(name), &st)
	return st, err
}

// FinishEvent deletes an event that every target is done with, with its deliveries.
func (tx *Tx) FinishEvent(seq uint64) error {
	prefix := indexKey(seqKey(seq), nil)
	c := tx.bucket(bucketDeliveries).Cursor()
	var doomed [][]byte
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		doomed = append(doomed, bytes.Clone(k))
	}
	for _, k := range doomed {
		if err := tx.bucket(bucketDeliveries).Delete(k); err != nil {
			return err
		}
	}
	return tx.bucket(bucketOutbox).Delete(seqKey(seq))
}

// TargetStates returns the delivery totals of every target that was ever tried, by
// name.
func (tx *Tx) TargetStates() ([]TargetState, error) {
	var out []TargetState
	err := tx.bucket(bucketNotifyTargets).ForEach(func(k, v []byte) error {
		var st TargetState
		if err := tx.decode(bucketNotifyTargets, k, v, &st); err != nil {
			return err
		}
		out = append(out, st)
		return nil
	})
	return out, err
}
