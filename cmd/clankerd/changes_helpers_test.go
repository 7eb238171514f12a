package main

import (
	"encoding/json"
	"slices"
	"testing"
)

// changeFinding is a finding of a change-tracking check as `check -o json` shows it.
type changeFinding struct {
	Resource, Problem, Severity, State string
}

// trackedFindings runs check on hb and returns its exit code and the findings of
// every result by resource, with the receipt's baseline note of each check.
func trackedFindings(t *testing.T, envs []string, state, hb string) (int, map[string]changeFinding, map[string]string) {
	t.Helper()
	r := cliEnv(t, envs, state, "check", hb, "-o", "json")
	var out struct {
		Results []struct {
			Check    string          `json:"check"`
			Status   string          `json:"status"`
			Error    string          `json:"error"`
			Baseline string          `json:"baseline"`
			Findings []changeFinding `json:"findings"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("check: exit %d: %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	fs, notes := map[string]changeFinding{}, map[string]string{}
	for _, res := range out.Results {
		notes[res.Check] = res.Status + ": " + res.Baseline + res.Error
		for _, f := range res.Findings {
			fs[f.Resource] = f
		}
	}
	return r.code, fs, notes
}

// openFindings lists the open findings' resources and states.
func openFindings(t *testing.T, state string) []string {
	t.Helper()
	var fs struct {
		Findings []struct{ Resource, State, Severity string }
	}
	jsonOut(t, state, 0, &fs, "findings", "-o", "json")
	var out []string
	for _, f := range fs.Findings {
		if f.State != "resolved" {
			out = append(out, f.Resource+" "+f.State+" "+f.Severity)
		}
	}
	slices.Sort(out)
	return out
}

func rank(sev string) int {
	return slices.Index([]string{"info", "low", "medium", "high", "critical"}, sev) + 1
}
