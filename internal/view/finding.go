package view

import (
	"fmt"
	"io"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
)

// Finding is a finding as every output shows it.
type Finding struct {
	Fingerprint string `json:"fingerprint"`
	Check       string `json:"check,omitempty"`
	// Item is the FILE:LINE of the heartbeat item that found it.
	Item     string             `json:"item,omitempty"`
	Resource string             `json:"resource"`
	Problem  string             `json:"problem"`
	Severity checks.Severity    `json:"severity"`
	State    store.FindingState `json:"state"`
	Summary  string             `json:"summary"`
	Evidence map[string]string  `json:"evidence,omitempty"`
	Fix      string             `json:"fix,omitempty"`
	// Cost is the estimated monthly cost in USD of what the finding is on, where the
	// check knows it; absent (not 0) when unknown.
	Cost *float64 `json:"cost,omitempty"`
	// Explanation is the model's, when one explained the finding.
	Explanation string    `json:"explanation,omitempty" view:"multiline"`
	MutedBy     string    `json:"muted_by,omitempty"`
	FirstSeen   time.Time `json:"first_seen,omitzero"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	ResolvedAt  time.Time `json:"resolved_at,omitzero"`
}

// finding shapes a stored finding, with the model's explanation of it ("" for none);
// the exported constructor that returns it cleans it.
func finding(f store.FindingRecord, explanation string) Finding {
	return Finding{
		Fingerprint: f.Fingerprint, Check: f.Check, Item: f.Pos, Resource: f.Resource, Problem: f.Problem,
		Severity: f.Severity, State: f.State, Summary: f.Summary, Evidence: f.Evidence, Fix: f.Fix,
		Cost: f.MonthlyCostUSD, Explanation: explanation, MutedBy: f.MutedBy,
		FirstSeen: f.FirstSeen, LastSeen: f.LastSeen, ResolvedAt: f.ResolvedAt,
	}
}

// Findings shapes stored findings; explain returns a finding's explanation by
// fingerprint (nil for none).
func Findings(fs []store.FindingRecord, explain func(fingerprint string) string) []Finding {
	out := each(fs, func(f store.FindingRecord) Finding {
		e := ""
		if explain != nil {
			e = explain(f.Fingerprint)
		}
		return finding(f, e)
	})
	scrub(&out)
	return out
}

// StateText is the finding's state, marked when a mute silences it.
func (f Finding) StateText() string {
	if f.MutedBy != "" {
		return string(f.State) + " (muted " + f.MutedBy + ")"
	}
	return string(f.State)
}

// WriteFindings writes findings as a table, then the model's explanations.
func WriteFindings(w io.Writer, fs []Finding) error {
	if len(fs) == 0 {
		_, err := fmt.Fprintln(w, "no findings")
		return err
	}
	t := newTable(w, "STATE", "SEVERITY", "CHECK", "RESOURCE", "SUMMARY", "FIRST SEEN", "LAST SEEN", "FINGERPRINT")
	for _, f := range fs {
		t.row(f.StateText(), string(f.Severity), f.Check, OneLine(f.Resource, 60), OneLine(f.Summary, 70), When(f.FirstSeen), When(f.LastSeen), f.Fingerprint)
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, f := range fs {
		if f.Explanation != "" {
			fmt.Fprintf(w, "\n%s (%s on %s), explained by the model:\n  %s\n", f.Fingerprint, f.Problem, OneLine(f.Resource, 60), indent(f.Explanation, "  "))
		}
	}
	return nil
}
