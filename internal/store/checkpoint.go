package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/clankerd/clankerd/internal/private"
)

// Checkpoint anchors the audit log's head outside the database: a file holding the
// sequence number and hash of the last record, signed with a key the database does
// not hold, replaced after every commit that appends to the log. Records cut from the
// end of the log, with the head moved back, no longer reach the checkpoint.
type Checkpoint struct {
	// Path is the checkpoint file; "" keeps no checkpoint.
	Path string
	// Key signs the checkpoint (HMAC-SHA256).
	Key []byte
	// Anchor writes the log's current head as the checkpoint at Open when the file is
	// missing: for a state directory whose key was just made (a database from before
	// checkpoints). Otherwise a missing checkpoint is reported by VerifyAudit, and
	// appends leave it missing, until the operator reanchors.
	Anchor bool
}

// CheckpointError says the checkpoint is missing, unreadable or does not match the
// log. It matches ErrAuditBroken.
type CheckpointError struct {
	Path   string
	Reason string
}

func (e *CheckpointError) Error() string {
	return fmt.Sprintf("audit checkpoint %s %s; if you know why (a backup was restored, the state directory was copied), accept the log's current head with `clankerd audit verify --reanchor`", e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrAuditBroken) true.
func (e *CheckpointError) Is(target error) bool { return target == ErrAuditBroken }

// AuditTruncatedError says records are missing from the end of the log: the
// checkpoint outside the database reached record To, the log ends before From.
type AuditTruncatedError struct {
	From, To   uint64
	Checkpoint string
}

func (e *AuditTruncatedError) Error() string {
	return fmt.Sprintf("audit log truncated: records %d..%d are missing (the checkpoint %s says the log reached record %d; the database ends at %d); the log was cut outside clankerd: restore a backup to investigate", e.From, e.To, e.Checkpoint, e.To, e.From-1)
}

// Is makes errors.Is(err, ErrAuditBroken) true.
func (e *AuditTruncatedError) Is(target error) bool { return target == ErrAuditBroken }

type checkpointFile struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	MAC  string `json:"mac"`
}

func (c Checkpoint) mac(seq uint64, hash string) string {
	m := hmac.New(sha256.New, c.Key)
	m.Write([]byte(strconv.FormatUint(seq, 10) + " " + hash))
	return hex.EncodeToString(m.Sum(nil))
}

// read returns the checkpoint's head; found is false when the file is missing.
func (c Checkpoint) read() (head auditHead, found bool, err error) {
	data, err := private.ReadSecret(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return auditHead{}, false, nil
	}
	if err != nil {
		return auditHead{}, false, &CheckpointError{Path: c.Path, Reason: "cannot be read (" + err.Error() + ")"}
	}
	var f checkpointFile
	if err := json.Unmarshal(data, &f); err != nil {
		return auditHead{}, false, &CheckpointError{Path: c.Path, Reason: "cannot be decoded"}
	}
	if !hmac.Equal([]byte(c.mac(f.Seq, f.Hash)), []byte(f.MAC)) {
		return auditHead{}, false, &CheckpointError{Path: c.Path, Reason: "does not verify with the key: it was changed outside clankerd"}
	}
	return auditHead{Seq: f.Seq, Hash: f.Hash}, true, nil
}

func (c Checkpoint) write(head auditHead) error {
	data, err := json.Marshal(checkpointFile{Seq: head.Seq, Hash: head.Hash, MAC: c.mac(head.Seq, head.Hash)})
	if err != nil {
		return err
	}
	if err := private.ReplaceSecret(c.Path, data); err != nil {
		return fmt.Errorf("writing the audit checkpoint: %w", err)
	}
	return nil
}

// checkCheckpoint compares the checkpoint with the log whose head is head: the
// checkpoint's record must be in the log, with the same hash. A checkpoint behind the
// head is fine (the chain links the records after it; a crash between a commit and
// the checkpoint's write leaves it so).
func (tx *Tx) checkCheckpoint(head auditHead) error {
	c := tx.db.checkpoint
	cp, found, err := c.read()
	switch {
	case err != nil:
		return err
	case !found && head.Seq == 0:
		return nil
	case !found:
		return &CheckpointError{Path: c.Path, Reason: fmt.Sprintf("is missing, and the log holds %d records", head.Seq)}
	case cp.Seq > head.Seq:
		return &AuditTruncatedError{From: head.Seq + 1, To: cp.Seq, Checkpoint: c.Path}
	case cp.Seq == 0:
		return nil
	}
	var r AuditRecord
	if found, err := tx.get(bucketAudit, seqKey(cp.Seq), &r); err != nil || !found || r.Hash != cp.Hash {
		return &CheckpointError{Path: c.Path, Reason: fmt.Sprintf("names record %d with another hash than the log's: the log was rewritten", cp.Seq)}
	}
	return nil
}

// openCheckpoint checks the checkpoint against the log at Open. When they disagree,
// or the checkpoint is missing, appends leave the file as it is (so the evidence is
// kept) until Reanchor.
func (db *DB) openCheckpoint() error {
	if db.checkpoint.Path == "" {
		return nil
	}
	if len(db.checkpoint.Key) == 0 {
		return errors.New("store: the audit checkpoint has no key")
	}
	anchor := db.checkpoint.Anchor
	return db.View(context.Background(), func(tx *Tx) error {
		head, err := tx.auditHead()
		if err != nil {
			return err
		}
		if _, found, err := db.checkpoint.read(); anchor && err == nil && !found {
			return db.anchorAt(head)
		}
		problem := tx.checkCheckpoint(head)
		db.anchorMu.Lock()
		defer db.anchorMu.Unlock()
		db.anchorHeld = problem
		return nil
	})
}

// anchored is called after a commit that appended record head: it replaces the
// checkpoint, unless a later record is already anchored or the checkpoint is held.
func (db *DB) anchored(head auditHead) {
	db.anchorMu.Lock()
	defer db.anchorMu.Unlock()
	if db.checkpoint.Path == "" || db.anchorHeld != nil || head.Seq <= db.anchorSeq {
		return
	}
	db.anchorErr = db.checkpoint.write(head)
	if db.anchorErr == nil {
		db.anchorSeq = head.Seq
	}
}

func (db *DB) anchorAt(head auditHead) error {
	db.anchorMu.Lock()
	defer db.anchorMu.Unlock()
	if err := db.checkpoint.write(head); err != nil {
		return err
	}
	db.anchorSeq, db.anchorHeld, db.anchorErr = head.Seq, nil, nil
	return nil
}

// anchorProblem is why the checkpoint was not kept up to date, if it was not.
func (db *DB) anchorProblem() error {
	db.anchorMu.Lock()
	defer db.anchorMu.Unlock()
	return db.anchorErr
}

// Reanchor accepts the log's current head as the checkpoint, after verifying the
// chain up to it: for when the operator knows why the checkpoint was missing or did
// not match (a backup restored). Records already cut stay cut; the chain must be
// intact.
func (db *DB) Reanchor(ctx context.Context) error {
	if db.checkpoint.Path == "" {
		return errors.New("store: this database keeps no audit checkpoint")
	}
	return db.View(ctx, func(tx *Tx) error {
		head, _, err := tx.verifyChain()
		if err != nil {
			return err
		}
		return db.anchorAt(head)
	})
}
