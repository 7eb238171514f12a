package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/clankerd/clankerd/tasks"
)

// ErrAuditBroken is matched by every *AuditBreakError.
var ErrAuditBroken = errors.New("audit chain is broken")

// AuditBreakError names the first audit record that does not fit the chain.
type AuditBreakError struct {
	Seq    uint64
	Reason string
}

func (e *AuditBreakError) Error() string {
	return fmt.Sprintf("audit chain is broken at record %d: %s; the log was changed outside clankerd (restore a backup to investigate)", e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrAuditBroken) true.
func (e *AuditBreakError) Is(target error) bool { return target == ErrAuditBroken }

// AuditFilter selects audit records.
type AuditFilter struct {
	// Since keeps records with a sequence number above it.
	Since uint64 `json:"since,omitempty"`
	// Limit keeps the last Limit records.
	Limit int `json:"limit,omitempty"`
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Audit appends what actor did to subject to the audit log, chained to the previous
// record.
func (tx *Tx) Audit(actor, action, subject string, detail map[string]string) error {
	_, err := tx.AppendAudit(AuditEntry{Actor: actor, Action: action, Subject: subject, Detail: detail})
	return err
}

// AppendAudit appends an entry to the audit log, chained to the previous record, and
// returns the record.
func (tx *Tx) AppendAudit(e AuditEntry) (AuditRecord, error) {
	head, err := tx.auditHead()
	if err != nil {
		return AuditRecord{}, err
	}
	b := tx.bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return AuditRecord{}, err
	}
	if len(e.Groups) == 0 {
		e.Groups = tx.groups
	}
	rec := AuditRecord{Seq: seq, Time: tx.now(), AuditEntry: e, Prev: head.Hash}
	rec.Hash = auditHash(rec)
	if err := tx.put(bucketAudit, seqKey(seq), rec); err != nil {
		return AuditRecord{}, err
	}
	head = auditHead{Seq: seq, Hash: rec.Hash}
	tx.tx.OnCommit(func() { tx.db.anchored(head) })
	return rec, tx.put(bucketMeta, keyAuditHead, head)
}

func (tx *Tx) auditHead() (auditHead, error) {
	var head auditHead
	_, err := tx.get(bucketMeta, keyAuditHead, &head)
	return head, err
}

// auditHash is the sha256 of the previous hash and the record without its own hash.
func auditHash(r AuditRecord) string {
	r.Hash = ""
	data, _ := json.Marshal(r)
	h := sha256.New()
	h.Write([]byte(r.Prev))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// AuditLog returns audit records, oldest first. With a Limit it reads only the last
// Limit records.
func (tx *Tx) AuditLog(f AuditFilter) ([]AuditRecord, error) {
	var out []AuditRecord
	c := tx.bucket(bucketAudit).Cursor()
	first := seqKey(f.Since + 1)
	if f.Limit > 0 {
		for k, v := c.Last(); k != nil && bytes.Compare(k, first) >= 0 && len(out) < f.Limit; k, v = c.Prev() {
			var r AuditRecord
			if err := tx.decode(bucketAudit, k, v, &r); err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		slices.Reverse(out)
		return out, nil
	}
	for k, v := c.Seek(first); k != nil; k, v = c.Next() {
		var r AuditRecord
		if err := tx.decode(bucketAudit, k, v, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// VerifyAudit walks the chain and returns how many records it holds. It fails with
// an *AuditBreakError naming the first record that was changed, removed or added
// outside clankerd; with an *AuditTruncatedError or a *CheckpointError when the log
// does not reach the checkpoint kept outside the database; and with a *PlanAuditError
// for every plan whose steps are missing from the log. All match ErrAuditBroken.
func (tx *Tx) VerifyAudit() (int, error) {
	head, steps, err := tx.verifyChain()
	if err != nil {
		return int(head.Seq), err
	}
	var problems []error
	if tx.db.checkpoint.Path != "" {
		problems = append(problems, tx.checkCheckpoint(head), tx.db.anchorProblem())
	}
	plans, err := tx.plansWithoutSteps(steps)
	problems = append(problems, err)
	problems = append(problems, plans...)
	return int(head.Seq), errors.Join(problems...)
}

// verifyChain walks the chain and returns its head and the actions recorded about
// each subject, or an *AuditBreakError naming the first record that does not fit.
func (tx *Tx) verifyChain() (auditHead, map[string]map[string]bool, error) {
	head, err := tx.auditHead()
	if err != nil {
		return auditHead{}, nil, &AuditBreakError{Seq: 0, Reason: "the chain head is unreadable"}
	}
	steps := map[string]map[string]bool{}
	prev, want, n := "", uint64(1), uint64(0)
	broken := func(seq uint64, reason string) (auditHead, map[string]map[string]bool, error) {
		return auditHead{Seq: n, Hash: prev}, nil, &AuditBreakError{Seq: seq, Reason: reason}
	}
	c := tx.bucket(bucketAudit).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		seq := seqFromKey(k)
		if seq != want {
			return broken(want, fmt.Sprintf("record %d is missing (next is %d)", want, seq))
		}
		var r AuditRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return broken(seq, "the record cannot be decoded")
		}
		switch {
		case r.Seq != seq:
			return broken(seq, fmt.Sprintf("the record says it is %d", r.Seq))
		case r.Prev != prev:
			return broken(seq, "its link to the previous record does not match")
		case auditHash(r) != r.Hash:
			return broken(seq, "its content does not match its hash")
		}
		if steps[r.Subject] == nil {
			steps[r.Subject] = map[string]bool{}
		}
		steps[r.Subject][r.Action] = true
		prev, want, n = r.Hash, seq+1, n+1
	}
	switch {
	case head.Seq < n:
		return broken(head.Seq+1, fmt.Sprintf("the log ends at record %d but its head says %d: records were added after the head", n, head.Seq))
	case head.Seq > n:
		return broken(n+1, fmt.Sprintf("the log ends at record %d but its head says %d: records were removed from the end", n, head.Seq))
	case head.Hash != prev:
		return broken(n, "its hash does not match the chain head")
	}
	return head, steps, nil
}

// PlanAuditError says a plan is in a state whose steps the audit log does not hold:
// its records were removed. It matches ErrAuditBroken.
type PlanAuditError struct {
	Plan    string
	State   tasks.PlanState
	Missing []string
}

func (e *PlanAuditError) Error() string {
	return fmt.Sprintf("plan %s is %s but the audit log has no %s record of it: records were removed outside clankerd", e.Plan, e.State, strings.Join(e.Missing, ", "))
}

// Is makes errors.Is(err, ErrAuditBroken) true.
func (e *PlanAuditError) Is(target error) bool { return target == ErrAuditBroken }

// planSteps are the audit actions a plan in each state has been through.
var planSteps = map[tasks.PlanState][]string{
	tasks.PlanPending:  {"plan.created"},
	tasks.PlanApproved: {"plan.created", "plan.approved"},
	tasks.PlanApplying: {"plan.created", "plan.approved", "plan.applying"},
	tasks.PlanApplied:  {"plan.created", "plan.approved", "plan.applying", "plan.applied"},
	tasks.PlanFailed:   {"plan.created", "plan.approved", "plan.applying", "plan.failed"},
	tasks.PlanStale:    {"plan.created", "plan.approved", "plan.applying", "plan.stale"},
	tasks.PlanRejected: {"plan.created", "plan.rejected"},
	tasks.PlanExpired:  {"plan.created", "plan.expired"},
}

// plansWithoutSteps returns a *PlanAuditError for every stored plan whose steps are
// not all in steps, the actions the log holds by subject.
func (tx *Tx) plansWithoutSteps(steps map[string]map[string]bool) ([]error, error) {
	var out []error
	err := tx.bucket(bucketPlans).ForEach(func(k, v []byte) error {
		var p tasks.PlanRecord
		if err := tx.decode(bucketPlans, k, v, &p); err != nil {
			return err
		}
		var missing []string
		for _, action := range planSteps[p.State] {
			if !steps[p.ID][action] {
				missing = append(missing, action)
			}
		}
		if len(missing) > 0 {
			out = append(out, &PlanAuditError{Plan: p.ID, State: p.State, Missing: missing})
		}
		return nil
	})
	return out, err
}
