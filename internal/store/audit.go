package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	var head auditHead
	if _, err := tx.get(bucketMeta, keyAuditHead, &head); err != nil {
		return AuditRecord{}, err
	}
	b := tx.bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return AuditRecord{}, err
	}
	rec := AuditRecord{Seq: seq, Time: tx.now(), AuditEntry: e, Prev: head.Hash}
	rec.Hash = auditHash(rec)
	if err := tx.put(bucketAudit, seqKey(seq), rec); err != nil {
		return AuditRecord{}, err
	}
	return rec, tx.put(bucketMeta, keyAuditHead, auditHead{Seq: seq, Hash: rec.Hash})
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

// VerifyAudit walks the chain and returns how many records it holds, or an
// *AuditBreakError naming the first record that was changed, removed or added outside
// clankerd.
func (tx *Tx) VerifyAudit() (int, error) {
	var head auditHead
	if _, err := tx.get(bucketMeta, keyAuditHead, &head); err != nil {
		return 0, &AuditBreakError{Seq: 0, Reason: "the chain head is unreadable"}
	}
	prev, want, n := "", uint64(1), 0
	c := tx.bucket(bucketAudit).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		seq := seqFromKey(k)
		if seq != want {
			return n, &AuditBreakError{Seq: want, Reason: fmt.Sprintf("record %d is missing (next is %d)", want, seq)}
		}
		var r AuditRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return n, &AuditBreakError{Seq: seq, Reason: "the record cannot be decoded"}
		}
		switch {
		case r.Seq != seq:
			return n, &AuditBreakError{Seq: seq, Reason: fmt.Sprintf("the record says it is %d", r.Seq)}
		case r.Prev != prev:
			return n, &AuditBreakError{Seq: seq, Reason: "its link to the previous record does not match"}
		case auditHash(r) != r.Hash:
			return n, &AuditBreakError{Seq: seq, Reason: "its content does not match its hash"}
		}
		prev, want, n = r.Hash, seq+1, n+1
	}
	switch last := uint64(n); {
	case head.Seq < last:
		return n, &AuditBreakError{Seq: head.Seq + 1, Reason: fmt.Sprintf("the log ends at record %d but its head says %d: records were added after the head", last, head.Seq)}
	case head.Seq > last:
		return n, &AuditBreakError{Seq: last + 1, Reason: fmt.Sprintf("the log ends at record %d but its head says %d: records were removed from the end", last, head.Seq)}
	case head.Hash != prev:
		return n, &AuditBreakError{Seq: last, Reason: "its hash does not match the chain head"}
	}
	return n, nil
}
