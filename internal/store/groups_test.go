package store

import (
	"context"
	"slices"
	"testing"
)

// TestAuditGroups: the groups WithAuditGroups carries are recorded with every entry
// of that transaction, an entry without them has no groups field, and the chain
// verifies either way.
func TestAuditGroups(t *testing.T) {
	db, _ := openTest(t, Options{})
	ctx := WithAuditGroups(t.Context(), []string{"sre", "system:authenticated"})
	if err := db.Update(ctx, func(tx *Tx) error { return tx.Audit("alice", "mute.created", "m1", nil) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(context.Background(), func(tx *Tx) error { return tx.Audit("bob", "mute.created", "m2", nil) }); err != nil {
		t.Fatal(err)
	}
	var recs []AuditRecord
	var n int
	err := db.View(t.Context(), func(tx *Tx) error {
		var err error
		if recs, err = tx.AuditLog(AuditFilter{}); err != nil {
			return err
		}
		n, err = tx.VerifyAudit()
		return err
	})
	if err != nil {
		t.Fatalf("audit log with groups: %v", err)
	}
	if n != 2 || len(recs) != 2 {
		t.Fatalf("%d records (verified %d), want 2", len(recs), n)
	}
	if !slices.Equal(recs[0].Groups, []string{"sre", "system:authenticated"}) {
		t.Errorf("alice's record groups = %q, want sre, system:authenticated", recs[0].Groups)
	}
	if recs[1].Groups != nil {
		t.Errorf("bob's record groups = %q, want none", recs[1].Groups)
	}
}
