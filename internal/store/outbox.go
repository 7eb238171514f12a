package store

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/tasks"
)

// The notification outbox. EndRun and PutPlan queue target-agnostic events here in the
// transaction that records the run or the plan, so a crash can lose neither; a sender
// (package notify) fans each event out to the configured targets and records a
// Delivery per (event, target) until every target is done, then deletes the event.

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

// OutboxSignal receives a value after a commit that queued events, so a sender can
// deliver at once instead of polling.
func (db *DB) OutboxSignal() <-chan struct{} { return db.outboxReady }

// enqueue stores an event and signals the sender once the transaction commits.
func (tx *Tx) enqueue(ev OutboxEvent) error {
	seq, err := tx.bucket(bucketOutbox).NextSequence()
	if err != nil {
		return err
	}
	ev.Seq, ev.ID, ev.Created = seq, "n-"+tx.db.newID(), tx.now()
	if err := tx.put(bucketOutbox, seqKey(seq), ev); err != nil {
		return err
	}
	tx.tx.OnCommit(func() {
		select {
		case tx.db.outboxReady <- struct{}{}:
		default:
		}
	})
	return nil
}

// enqueueRunEvent queues the news of a run: findings that are new, worse or resolved
// and not muted, open findings whose mute ended since their news was held back, and the
// check starting or stopping to error. Nothing is queued when there is no news.
func (tx *Tx) enqueueRunEvent(r Receipt, changes []FindingRecord, prevSeverity map[string]checks.Severity) error {
	ev := OutboxEvent{Kind: EventRun, Item: r.Item, Check: r.Check, Pos: r.Pos, Run: r.Seq, Status: r.Status}
	if err := tx.erroringTransition(r, &ev); err != nil {
		return err
	}
	if r.Status == checks.Pass || r.Status == checks.Fail {
		mutes, err := tx.Mutes(false)
		if err != nil {
			return err
		}
		if ev.Findings, err = tx.findingNews(r, changes, prevSeverity, mutes); err != nil {
			return err
		}
	}
	if ev.Erroring == "" && len(ev.Findings) == 0 {
		return nil
	}
	return tx.enqueue(ev)
}

// erroringTransition notes when the item's check starts erroring (an error run after
// anything else) or stops (a pass or fail after error runs). Skipped runs say nothing.
func (tx *Tx) erroringTransition(r Receipt, ev *OutboxEvent) error {
	b := tx.bucket(bucketNotifyErroring)
	was := b.Get([]byte(r.Item)) != nil
	switch {
	case r.Status == checks.Error && !was:
		ev.Erroring, ev.Error = ErroringStarted, r.Error
		return b.Put([]byte(r.Item), []byte(r.Ended.Format(time.RFC3339Nano)))
	case (r.Status == checks.Pass || r.Status == checks.Fail) && was:
		ev.Erroring = ErroringStopped
		return b.Delete([]byte(r.Item))
	}
	return nil
}

// findingNews turns a completed run's changes into notices. News about a muted finding
// is held back, and remembered, so that the finding is told about as unmuted on the
// first run after its mute ends, if it is still open then.
func (tx *Tx) findingNews(r Receipt, changes []FindingRecord, prevSeverity map[string]checks.Severity, mutes []Mute) ([]FindingNotice, error) {
	now := tx.now()
	held := tx.bucket(bucketNotifyMuted)
	var out []FindingNotice
	changed := map[string]bool{}
	for _, f := range changes {
		changed[f.Fingerprint] = true
		n := noticeOf(f, "")
		switch f.State {
		case FindingNew:
			n.Change = ChangeNew
		case FindingResolved:
			n.Change = ChangeResolved
		case FindingChanged:
			prev, ok := prevSeverity[f.Fingerprint]
			if !ok || f.Severity.Rank() <= prev.Rank() {
				continue
			}
			n.Change, n.PrevSeverity = ChangeWorse, prev
		default:
			continue
		}
		key := indexKey([]byte(r.Item), []byte(f.Fingerprint))
		if m, muted := MuteFor(mutes, f, now); muted {
			if n.Change == ChangeResolved {
				if err := held.Delete(key); err != nil {
					return nil, err
				}
				continue
			}
			if err := held.Put(key, []byte(m.ID)); err != nil {
				return nil, err
			}
			continue
		}
		if err := held.Delete(key); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	unmuted, err := tx.unmutedNews(r.Item, changed, mutes, now)
	out = append(out, unmuted...)
	// Most severe first, then by resource: the order people read.
	slices.SortStableFunc(out, func(a, b FindingNotice) int {
		return cmp.Or(cmp.Compare(b.Severity.Rank(), a.Severity.Rank()), strings.Compare(a.Resource, b.Resource))
	})
	return out, err
}

// unmutedNews returns the item's findings whose news a mute held back, that this run
// did not change, and that no mute silences any longer: still open, they are news
// again.
func (tx *Tx) unmutedNews(item string, changed map[string]bool, mutes []Mute, now time.Time) ([]FindingNotice, error) {
	var fps [][]byte
	err := tx.scanPrefix(bucketNotifyMuted, []byte(item), func(fp []byte) error {
		if !changed[string(fp)] {
			fps = append(fps, fp)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []FindingNotice
	for _, fp := range fps {
		f, err := tx.finding(string(fp))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if _, muted := MuteFor(mutes, f, now); muted && err == nil {
			continue
		}
		if err := tx.bucket(bucketNotifyMuted).Delete(indexKey([]byte(item), fp)); err != nil {
			return nil, err
		}
		if err == nil && f.State.Open() {
			out = append(out, noticeOf(f, ChangeUnmuted))
		}
	}
	return out, nil
}

func noticeOf(f FindingRecord, c Change) FindingNotice {
	return FindingNotice{Fingerprint: f.Fingerprint, Change: c, Resource: f.Resource, Problem: f.Problem, Severity: f.Severity, Summary: f.Summary}
}

// enqueuePlanEvent queues the news of a new pending plan.
func (tx *Tx) enqueuePlanEvent(p tasks.PlanRecord) error {
	return tx.enqueue(OutboxEvent{
		Kind: EventPlan, Item: p.Item, Check: p.Task, Pos: p.Source,
		Plan: &PlanNotice{ID: p.ID, Task: p.Task, Target: p.Target, Change: p.Change, Risk: p.Risk, ExpiresAt: p.ExpiresAt},
	})
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
