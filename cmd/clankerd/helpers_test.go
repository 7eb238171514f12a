package main

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/clankerd/clankerd/internal/store"
)

func openStoreForTest(t *testing.T, stateDir string) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(stateDir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// tamperAuditRecord edits audit record seq in the raw bbolt file, as someone outside
// clankerd could.
func tamperAuditRecord(t *testing.T, stateDir string, seq uint64) {
	t.Helper()
	raw, err := bolt.Open(filepath.Join(stateDir, store.FileName), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	err = raw.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		key := make([]byte, 8)
		for i := range 8 {
			key[7-i] = byte(seq >> (8 * i))
		}
		v := b.Get(key)
		if v == nil {
			t.Fatalf("no audit record %d", seq)
		}
		edited := bytes.Replace(v, []byte(`"action":"plan.`), []byte(`"action":"PLAN.`), 1)
		if bytes.Equal(edited, v) {
			t.Fatalf("audit record %d has no plan action to tamper with: %s", seq, v)
		}
		return b.Put(key, edited)
	})
	if err != nil {
		t.Fatal(err)
	}
}
