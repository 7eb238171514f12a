package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// openAnchored opens the database in dir with its audit checkpoint beside it.
func openAnchored(t *testing.T, dir string, anchor bool) *DB {
	t.Helper()
	db, err := Open(filepath.Join(dir, FileName), Options{Checkpoint: Checkpoint{Path: filepath.Join(dir, "audit.head"), Key: []byte("test key"), Anchor: anchor}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func verifyAnchored(t *testing.T, db *DB) (int, error) {
	t.Helper()
	var n int
	var verr error
	if err := db.View(t.Context(), func(tx *Tx) error { n, verr = tx.VerifyAudit(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n, verr
}

// cutAudit deletes the audit records after seq keep and moves the head (and the
// bucket's sequence) back to it, in the raw file, as someone outside clankerd could.
func cutAudit(t *testing.T, dir string, keep uint64) {
	t.Helper()
	raw, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	err = raw.Update(func(btx *bolt.Tx) error {
		tx := &Tx{tx: boltTx{btx}, db: &DB{path: dir}}
		var head AuditRecord
		if _, err := tx.get(bucketAudit, seqKey(keep), &head); err != nil {
			return err
		}
		b := btx.Bucket(bucketAudit)
		for k, _ := b.Cursor().Seek(seqKey(keep + 1)); k != nil; k, _ = b.Cursor().Seek(seqKey(keep + 1)) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return errors.Join(b.SetSequence(keep), tx.put(bucketMeta, keyAuditHead, auditHead{Seq: keep, Hash: head.Hash}))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointDetectsTruncation(t *testing.T) {
	dir := t.TempDir()
	db := openAnchored(t, dir, false)
	appendAudit(t, db, 5)
	if n, err := verifyAnchored(t, db); n != 5 || err != nil {
		t.Fatalf("verify = %d, %v", n, err)
	}
	db.Close()

	cutAudit(t, dir, 3)
	// The chain alone is intact: only the checkpoint knows records 4..5 existed.
	plain, err := Open(filepath.Join(dir, FileName), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := verifyAnchored(t, plain); n != 3 || err != nil {
		t.Errorf("verify of the cut log without its checkpoint = %d, %v", n, err)
	}
	plain.Close()
	db = openAnchored(t, dir, false)
	_, err = verifyAnchored(t, db)
	var trunc *AuditTruncatedError
	if !errors.As(err, &trunc) || trunc.From != 4 || trunc.To != 5 || !errors.Is(err, ErrAuditBroken) || !strings.Contains(err.Error(), "records 4..5 are missing") {
		t.Fatalf("verify after cutting 4..5: %v", err)
	}
	// New records do not paper over the cut: the checkpoint is kept as evidence.
	appendAudit(t, db, 3)
	if _, err := verifyAnchored(t, db); !errors.Is(err, ErrAuditBroken) || !strings.Contains(err.Error(), "the log was rewritten") {
		t.Errorf("verify after appending over the cut: %v", err)
	}
	if err := db.Reanchor(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := verifyAnchored(t, db); n != 6 || err != nil {
		t.Errorf("verify after reanchoring = %d, %v", n, err)
	}
}

func TestCheckpointBehindTheHeadIsAccepted(t *testing.T) {
	dir := t.TempDir()
	db := openAnchored(t, dir, false)
	appendAudit(t, db, 3)
	db.Close()
	// A crash between a commit and the checkpoint's write: the log is ahead of it.
	plain, err := Open(filepath.Join(dir, FileName), Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendAudit(t, plain, 2)
	plain.Close()
	db = openAnchored(t, dir, false)
	if n, err := verifyAnchored(t, db); n != 5 || err != nil {
		t.Errorf("verify with the checkpoint at 3 of 5 = %d, %v", n, err)
	}
}

func TestCheckpointMissingOrEdited(t *testing.T) {
	dir := t.TempDir()
	cp := filepath.Join(dir, "audit.head")
	db := openAnchored(t, dir, false)
	appendAudit(t, db, 2)
	db.Close()

	if err := os.Remove(cp); err != nil {
		t.Fatal(err)
	}
	db = openAnchored(t, dir, false)
	appendAudit(t, db, 1)
	var ce *CheckpointError
	if _, err := verifyAnchored(t, db); !errors.As(err, &ce) || !strings.Contains(err.Error(), "is missing") || !strings.Contains(err.Error(), "--reanchor") {
		t.Errorf("verify without the checkpoint: %v", err)
	}
	if _, err := os.Stat(cp); err == nil {
		t.Error("an append made a missing checkpoint again")
	}
	db.Close()

	// A new key (a state directory from before checkpoints) anchors the current head.
	db = openAnchored(t, dir, true)
	if n, err := verifyAnchored(t, db); n != 3 || err != nil {
		t.Errorf("verify after anchoring = %d, %v", n, err)
	}
	db.Close()

	data, err := os.ReadFile(cp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, []byte(strings.Replace(string(data), `"seq":3`, `"seq":2`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	db = openAnchored(t, dir, true)
	if _, err := verifyAnchored(t, db); !errors.As(err, &ce) || !strings.Contains(err.Error(), "does not verify with the key") {
		t.Errorf("verify with an edited checkpoint: %v", err)
	}
}

func TestVerifyAuditFindsPlansWithoutTheirSteps(t *testing.T) {
	db, _ := openTest(t, Options{})
	p := testPlan("p-1", "", db.now())
	mustUpdate(t, db, func(tx *Tx) error {
		if err := errors.Join(tx.PutPlan(p), tx.Audit("me", "plan.created", p.ID, nil)); err != nil {
			return err
		}
		p.State = "applied"
		return errors.Join(tx.PutPlan(p), tx.Audit("me", "plan.applied", p.ID, nil))
	})
	_, err := verifyAnchored(t, db)
	var pe *PlanAuditError
	if !errors.As(err, &pe) || pe.Plan != "p-1" || strings.Join(pe.Missing, ",") != "plan.approved,plan.applying" || !errors.Is(err, ErrAuditBroken) {
		t.Errorf("verify of an applied plan without approval records: %v", err)
	}
}
