package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/clankerd/clankerd/checks"
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

// providerLinked reports whether this build links the provider called name (see
// linkedProviders): false under its clankerd_no* build tag.
func providerLinked(t *testing.T, name string) bool {
	t.Helper()
	for _, l := range linkedProviders() {
		if l.name != name {
			continue
		}
		p := l.build(providerOptions{})
		if p == nil {
			return false
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		return true
	}
	t.Fatalf("no provider called %q in linkedProviders", name)
	return false
}

// checkCount is how many checks (not tasks) this build registers.
func checkCount(t *testing.T) int {
	t.Helper()
	provs, err := (&cmdline{logger: slog.New(slog.DiscardHandler)}).newProviders(false)
	if err != nil {
		t.Fatal(err)
	}
	defer provs.Close()
	n := 0
	for _, s := range provs.registry.Specs() {
		if _, kind, _ := provs.registry.Lookup(s.ID); kind != checks.KindTask {
			n++
		}
	}
	return n
}

// fileTask writes a heartbeat of one test.file.set item, under the heading, that
// changes a new target file from "v1" to content; it returns both paths.
func fileTask(t *testing.T, heading, content string) (hb, target string) {
	t.Helper()
	dir := t.TempDir()
	target = filepath.Join(dir, "target.txt")
	writeFile(t, target, "v1")
	hb = filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## %s\n- `test.file.set` path=%s content=%s\n", heading, target, content))
	return hb, target
}

// queuePlan runs check (with extra flags) on hb, a heartbeat of one task item, and
// returns the id of the plan it queued.
func queuePlan(t *testing.T, state, hb string, extra ...string) string {
	t.Helper()
	var out checkOutput
	jsonOut(t, state, 0, &out, append([]string{"check", hb}, extra...)...)
	if len(out.Results) != 1 || out.Results[0].Plan == nil {
		t.Fatalf("check did not queue a plan: %+v", out)
	}
	return out.Results[0].Plan.ID
}
