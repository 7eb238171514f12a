package view

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/ask"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
)

// outcome is a run of check with the status and findings.
func outcome(check string, status checks.Status, fs ...store.FindingRecord) runner.Outcome {
	o := runner.Outcome{Receipt: store.Receipt{Status: status}}
	o.Item.ID = check
	for _, f := range fs {
		o.Findings = append(o.Findings, store.RunFinding{FindingRecord: f})
	}
	return o
}

// A question is healthy only when checks ran and none failed with a finding that fails
// a run (as check's exit code: info and muted ones do not), errored or was skipped;
// anything else says why not.
func TestAnswerHealth(t *testing.T) {
	open := func(sev checks.Severity, mutedBy string) store.FindingRecord {
		return store.FindingRecord{Finding: checks.Finding{Resource: "pod/production/api", Severity: sev}, State: store.FindingNew, MutedBy: mutedBy}
	}
	resolved := open(checks.High, "")
	resolved.State = store.FindingResolved
	unrecorded := outcome("a", checks.Pass)
	unrecorded.Err = errors.New("database locked")
	for _, tc := range []struct {
		name     string
		outcomes []runner.Outcome
		healthy  bool
		reason   string
	}{
		{"all passed", []runner.Outcome{outcome("a", checks.Pass), outcome("b", checks.Pass, resolved)}, true, ""},
		{"one failed", []runner.Outcome{outcome("a", checks.Pass), outcome("b", checks.Fail, open(checks.High, ""))}, false, "1 check(s) failed"},
		{"failed with muted and info findings only", []runner.Outcome{outcome("a", checks.Fail, open(checks.High, "m-1"), open(checks.Info, ""))}, true, ""},
		{"errored", []runner.Outcome{outcome("a", checks.Error)}, false, "1 check(s) could not be evaluated"},
		{"not recorded", []runner.Outcome{unrecorded}, false, "1 check(s) could not be evaluated"},
		{"skipped beside a pass", []runner.Outcome{outcome("a", checks.Pass), outcome("b", checks.Skipped)}, false, "1 check(s) skipped"},
		{"everything at once", []runner.Outcome{outcome("a", checks.Fail, open(checks.Low, "")), outcome("b", checks.Error), outcome("c", checks.Skipped)}, false,
			"1 check(s) failed, 1 check(s) could not be evaluated, 1 check(s) skipped"},
		{"nothing ran", nil, false, "no check was evaluated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAnswer(ask.Answer{Outcomes: tc.outcomes})
			if a.Healthy != tc.healthy || a.UnhealthyReason != tc.reason {
				t.Errorf("healthy, reason = %v, %q; want %v, %q", a.Healthy, a.UnhealthyReason, tc.healthy, tc.reason)
			}
		})
	}
}

// The flat findings hold the open findings of every result with their check and cost
// (absent when unknown, never 0), and JSON always has the list.
func TestAnswerFindings(t *testing.T) {
	cost := 12.5
	priced := store.FindingRecord{Check: "aws.tags.missing", Finding: checks.Finding{Resource: "volume/us-east-1/vol-1", Severity: checks.Low, Summary: "untagged", MonthlyCostUSD: &cost}, State: store.FindingNew}
	unpriced := store.FindingRecord{Check: "aws.tags.missing", Finding: checks.Finding{Resource: "bucket/logs", Severity: checks.Low, Summary: "untagged"}, State: store.FindingUnchanged}
	gone := store.FindingRecord{Check: "k8s.pods.unhealthy", Finding: checks.Finding{Resource: "pod/shop/api"}, State: store.FindingResolved}
	a := NewAnswer(ask.Answer{Outcomes: []runner.Outcome{outcome("aws.tags.missing", checks.Fail, priced, unpriced), outcome("k8s.pods.unhealthy", checks.Pass, gone)}})
	if len(a.Findings) != 2 || a.Findings[0].Resource != priced.Resource || a.Findings[1].Resource != unpriced.Resource {
		t.Fatalf("findings = %+v", a.Findings)
	}
	raw, err := json.Marshal(a.Findings)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"check", "resource", "severity", "state", "summary"} {
		if _, ok := got[0][key]; !ok {
			t.Errorf("a finding has no %q: %s", key, raw)
		}
	}
	if got[0]["cost"] != 12.5 {
		t.Errorf("cost = %v, want 12.5", got[0]["cost"])
	}
	if _, ok := got[1]["cost"]; ok {
		t.Errorf("an unknown cost is shown: %s", raw)
	}

	raw, err = json.Marshal(NewAnswer(ask.Answer{}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"findings":[]`) || !strings.Contains(string(raw), `"healthy":false`) {
		t.Errorf("an empty answer: %s", raw)
	}
}
