package view

import (
	"slices"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
)

// SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format), as code-scanning
// dashboards read it: one run, one rule per check id, one result per open finding.
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	// sarifFingerprintKey names the finding's fingerprint among a result's partial
	// fingerprints; the version lets a later change of what it hashes take a new key.
	sarifFingerprintKey = "clankerd/v1"
)

// SpecLookup is what SARIF needs of the catalog: a check's spec by id.
// *checks.Registry implements it.
type SpecLookup interface {
	Lookup(id string) (checks.Spec, checks.Kind, bool)
}

// SARIF is a SARIF 2.1.0 log of a round of results.
type SARIF struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []SARIFRun `json:"runs"`
}

// SARIFRun is the log's one run: the tool, how its invocation went, and the results.
type SARIFRun struct {
	Tool        SARIFTool         `json:"tool"`
	Invocations []SARIFInvocation `json:"invocations"`
	Results     []SARIFResult     `json:"results"`
}

// SARIFTool is clankerd, its version and its rules (one per check that ran).
type SARIFTool struct {
	Driver SARIFDriver `json:"driver"`
}

// SARIFDriver names the tool and lists its rules.
type SARIFDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri"`
	Rules          []SARIFRule `json:"rules"`
}

// SARIFRule is one check id, described by its spec.
type SARIFRule struct {
	ID               string          `json:"id"`
	ShortDescription SARIFMessage    `json:"shortDescription"`
	Properties       SARIFRuleFields `json:"properties"`
}

// SARIFRuleFields are a rule's properties: the check's categories, as tags.
type SARIFRuleFields struct {
	Tags []string `json:"tags,omitempty"`
}

// SARIFMessage is a SARIF message or description: plain text.
type SARIFMessage struct {
	Text string `json:"text"`
}

// SARIFInvocation says whether every check could be evaluated, and which could not.
type SARIFInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []SARIFNotification `json:"toolExecutionNotifications,omitempty"`
}

// SARIFNotification is a check that ended in error, with the error.
type SARIFNotification struct {
	Level      string       `json:"level"`
	Message    SARIFMessage `json:"message"`
	Descriptor SARIFRuleRef `json:"descriptor"`
}

// SARIFRuleRef points at a rule by id.
type SARIFRuleRef struct {
	ID string `json:"id"`
}

// SARIFResult is one open finding.
type SARIFResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             SARIFMessage      `json:"message"`
	Locations           []SARIFLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	// BaselineState is the finding's state against the previous run: new,
	// unchanged or updated.
	BaselineState string             `json:"baselineState,omitempty"`
	Properties    SARIFResultFields  `json:"properties"`
	Suppressions  []SARIFSuppression `json:"suppressions,omitempty"`
}

// SARIFLocation is where a finding is: the resource, as a logical location (a
// Kubernetes object or cloud resource has no file and line).
type SARIFLocation struct {
	LogicalLocations []SARIFLogicalLocation `json:"logicalLocations"`
}

// SARIFLogicalLocation names the resource: "kind/namespace/name", an ARN, a URL.
type SARIFLogicalLocation struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// SARIFResultFields are a result's properties: clankerd's severity and state.
type SARIFResultFields struct {
	Severity checks.Severity    `json:"severity"`
	State    store.FindingState `json:"state"`
	Problem  string             `json:"problem"`
	Fix      string             `json:"fix,omitempty"`
}

// SARIFSuppression marks a finding a mute silences.
type SARIFSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

// NewSARIF shapes results as a SARIF log: a rule for every check that ran (described
// by its spec in specs), a result for every finding that is open, and a notification
// for every check that could not be evaluated. version is clankerd's.
func NewSARIF(rs Results, specs SpecLookup, version string) SARIF {
	driver := SARIFDriver{Name: "clankerd", Version: version, InformationURI: "https://github.com/clankerd/clankerd", Rules: []SARIFRule{}}
	run := SARIFRun{Tool: SARIFTool{Driver: driver}, Invocations: []SARIFInvocation{{ExecutionSuccessful: true}}, Results: []SARIFResult{}}
	index := map[string]int{}
	for _, r := range rs.Results {
		if r.Check == "" {
			continue
		}
		i, ok := index[r.Check]
		if !ok {
			i = len(run.Tool.Driver.Rules)
			index[r.Check] = i
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule(r.Check, specs))
		}
		if r.Status == checks.Error {
			inv := &run.Invocations[0]
			inv.ExecutionSuccessful = false
			inv.Notifications = append(inv.Notifications, SARIFNotification{Level: "error", Message: SARIFMessage{Text: r.Error}, Descriptor: SARIFRuleRef{ID: r.Check}})
		}
		for _, f := range r.Findings {
			if f.State == store.FindingResolved {
				continue
			}
			run.Results = append(run.Results, sarifResult(f, r.Check, i))
		}
	}
	out := SARIF{Schema: sarifSchema, Version: sarifVersion, Runs: []SARIFRun{run}}
	scrub(&out)
	return out
}

func sarifRule(id string, specs SpecLookup) SARIFRule {
	rule := SARIFRule{ID: id, ShortDescription: SARIFMessage{Text: id}}
	if s, _, ok := specs.Lookup(id); ok {
		if s.Description != "" {
			rule.ShortDescription.Text = s.Description
		}
		rule.Properties.Tags = slices.Clone(s.Categories)
	}
	return rule
}

func sarifResult(f Finding, check string, rule int) SARIFResult {
	res := SARIFResult{
		RuleID: check, RuleIndex: rule, Level: sarifLevel(f.Severity), Message: SARIFMessage{Text: f.Summary},
		Locations:           []SARIFLocation{{LogicalLocations: []SARIFLogicalLocation{{FullyQualifiedName: f.Resource, Kind: "resource"}}}},
		PartialFingerprints: map[string]string{sarifFingerprintKey: f.Fingerprint},
		BaselineState:       sarifBaseline(f.State),
		Properties:          SARIFResultFields{Severity: f.Severity, State: f.State, Problem: f.Problem, Fix: f.Fix},
	}
	if res.Message.Text == "" {
		res.Message.Text = f.Problem + " on " + f.Resource
	}
	if f.MutedBy != "" {
		res.Suppressions = []SARIFSuppression{{Kind: "external", Justification: "muted by " + f.MutedBy}}
	}
	return res
}

// sarifLevel maps a severity to a SARIF level: critical and high are errors, medium
// a warning, low and info notes.
func sarifLevel(s checks.Severity) string {
	switch s {
	case checks.Critical, checks.High:
		return "error"
	case checks.Medium:
		return "warning"
	}
	return "note"
}

// sarifBaseline maps a finding's state to SARIF's baselineState.
func sarifBaseline(s store.FindingState) string {
	switch s {
	case store.FindingNew:
		return "new"
	case store.FindingUnchanged:
		return "unchanged"
	case store.FindingChanged:
		return "updated"
	}
	return ""
}
