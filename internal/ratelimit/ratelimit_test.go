package ratelimit

import (
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/store"
)

// runs is a store's items and receipts, in memory.
type runs struct {
	items    []store.ItemState
	receipts map[uint64]store.Receipt
}

func (r runs) ItemStates() ([]store.ItemState, error) { return r.items, nil }

func (r runs) Receipt(seq uint64) (store.Receipt, error) {
	if rc, ok := r.receipts[seq]; ok {
		return rc, nil
	}
	return store.Receipt{}, store.ErrNotFound
}

func evidence(api, token string, remaining, limit string) map[string]string {
	return map[string]string{"api": api, "token": token, "rate_limit_remaining": remaining, "rate_limit": limit,
		"rate_limit_reset": "2026-12-03T06:40:00Z", "requests": "3", "not_modified": "1"}
}

// TestLatest: the newest run per API and token wins; a skipped last run falls back to
// the last completed one; other providers' runs, pruned receipts and evidence
// without the limit are passed over.
func TestLatest(t *testing.T) {
	at := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	const gh, ghe = "https://api.github.com/", "https://ghe.example.com/api/v3/"
	r := runs{
		items: []store.ItemState{
			{Item: "a", Check: "github.dependabot.alerts", LastRun: 10, LastCompleted: 10},
			{Item: "b", Check: "github.actions.failed", LastRun: 12, LastCompleted: 12},
			{Item: "c", Check: "github.repos.visibility", LastRun: 14, LastCompleted: 11}, // 14 skipped
			{Item: "d", Check: "kube.pods.unhealthy", LastRun: 15, LastCompleted: 15},
			{Item: "e", Check: "github.branches.unprotected", LastRun: 99, LastCompleted: 98}, // pruned
			{Item: "f", Check: "github.actions.disabled", LastRun: 16, LastCompleted: 16},     // bad numbers
		},
		receipts: map[uint64]store.Receipt{
			10: {Seq: 10, Check: "github.dependabot.alerts", Ended: at, Evidence: evidence(gh, "GH_TOKEN", "4400", "5000")},
			12: {Seq: 12, Check: "github.actions.failed", Ended: at.Add(time.Minute), Evidence: evidence(gh, "GH_TOKEN", "4321", "5000")},
			11: {Seq: 11, Check: "github.repos.visibility", Ended: at, Evidence: evidence(ghe, "GH_ENTERPRISE_TOKEN", "12", "15000")},
			14: {Seq: 14, Check: "github.repos.visibility", Status: "skipped"},
			15: {Seq: 15, Check: "kube.pods.unhealthy", Evidence: evidence(gh, "other", "1", "2")},
			16: {Seq: 16, Check: "github.actions.disabled", Evidence: evidence(gh, "GITHUB_TOKEN", "lots", "5000")},
		},
	}
	got, err := Latest(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []RateLimit{
		{Host: "api.github.com", API: gh, Token: "GH_TOKEN", Limit: 5000, Remaining: 4321, Reset: time.Date(2026, 12, 3, 6, 40, 0, 0, time.UTC),
			Run: 12, Check: "github.actions.failed", At: at.Add(time.Minute)},
		{Host: "ghe.example.com", API: ghe, Token: "GH_ENTERPRISE_TOKEN", Limit: 15000, Remaining: 12, Reset: time.Date(2026, 12, 3, 6, 40, 0, 0, time.UTC),
			Run: 11, Check: "github.repos.visibility", At: at},
	}
	if len(got) != len(want) {
		t.Fatalf("Latest = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Latest[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestFromReceiptHost(t *testing.T) {
	for api, want := range map[string]string{
		"https://api.github.com/":         "api.github.com",
		"http://127.0.0.1:8080/":          "127.0.0.1:8080",
		"https://ghe.example.com/api/v3/": "ghe.example.com",
	} {
		rl, ok := FromReceipt(store.Receipt{Evidence: evidence(api, "GH_TOKEN", "1", "2")})
		if !ok || rl.Host != want {
			t.Errorf("%s: host %q (%v), want %q", api, rl.Host, ok, want)
		}
	}
	if _, ok := FromReceipt(store.Receipt{Evidence: map[string]string{"api": "https://api.github.com/"}}); ok {
		t.Error("evidence without the limit read as a rate limit")
	}
}
