// Package checks defines what clankerd can check and change: the Check and Task
// interfaces, their typed parameters, results and findings, the Registry that
// providers add their checks and tasks to, and the Question a provider takes its
// parameters from when a question is routed.
package checks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Status is the outcome of one run of a check.
type Status string

// The four outcomes of a run. A check that could not evaluate is Error, never Pass.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Error   Status = "error"
	Skipped Status = "skipped"
)

// Severity ranks a finding. The zero value is not a valid severity.
type Severity string

// Severities from least to most urgent.
const (
	Info     Severity = "info"
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Rank orders severities: info is 1, critical is 5, anything unknown is 0.
func (s Severity) Rank() int {
	for i, v := range []Severity{Info, Low, Medium, High, Critical} {
		if v == s {
			return i + 1
		}
	}
	return 0
}

// ParseSeverity reads a severity name, case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	if v.Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q: use one of info, low, medium, high, critical", s)
	}
	return v, nil
}

// Finding is one problem a check found on one resource.
//
// Resource and Problem identify the finding (together with the check item that found
// it); Summary, Severity and Evidence describe it and may change from run to run
// without making it a different finding. Evidence must hold only facts that change when
// the problem changes: no timestamps, ages or latencies, or the finding reads as
// "changed" on every run.
type Finding struct {
	// Resource names what the problem is on: "kind/namespace/name", an ARN, a URL or
	// "type/region/id".
	Resource string `json:"resource"`
	// Problem is a short, stable kind of problem, such as "crashloop" or
	// "unexpected_status". It is part of the fingerprint; never put message text in it.
	Problem  string            `json:"problem"`
	Severity Severity          `json:"severity"`
	Summary  string            `json:"summary"`
	Evidence map[string]string `json:"evidence,omitempty"`
	// Fix is a hint for the operator: what to run or change.
	Fix string `json:"fix,omitempty"`
	// MonthlyCostUSD is the estimated monthly cost of the problem, where it is waste.
	MonthlyCostUSD *float64 `json:"monthly_cost_usd,omitempty"`
}

// Fingerprint identifies a finding across runs: it hashes the identity of the check
// item that found it, the resource and the problem kind, and nothing that describes
// the problem (summary, evidence, severity), so a finding keeps its fingerprint while
// it changes.
func Fingerprint(itemKey string, f Finding) string {
	h := sha256.New()
	for _, part := range []string{itemKey, f.Resource, f.Problem} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// Result is what a check that could evaluate returns: the findings it made and facts
// about the run itself (counts, latencies) that are not findings.
type Result struct {
	Findings []Finding         `json:"findings,omitempty"`
	Evidence map[string]string `json:"evidence,omitempty"`
	// Inventory is set by change-tracking checks (Spec.Tracks; see Track): the store
	// compares it with the item's baseline and makes findings of what is beyond it.
	Inventory *Inventory `json:"inventory,omitempty"`
}

// Status is Fail when any finding is more severe than info, otherwise Pass.
// Informational findings (an inventory of exposure, say) do not fail a check.
func (r Result) Status() Status {
	for _, f := range r.Findings {
		if f.Severity.Rank() > Info.Rank() {
			return Fail
		}
	}
	return Pass
}

// Check is one deterministic, read-only check. Run must not change anything.
//
// Run returns an error when it could not evaluate (a credential problem, an
// unreachable provider API, a malformed answer): the run is recorded as error and
// resolves no finding. A check that does not apply here returns Skip(reason). Problems
// with the checked target itself (a probe target that refuses connections, a pod in
// CrashLoopBackOff) are findings, not errors.
type Check interface {
	Spec() Spec
	Run(ctx context.Context, p Params) (Result, error)
}

// Kind tells checks from write tasks.
type Kind int

// The kinds of registered definitions.
const (
	KindCheck Kind = iota + 1
	KindTask
)

func (k Kind) String() string {
	switch k {
	case KindCheck:
		return "check"
	case KindTask:
		return "task"
	}
	return "unknown"
}

// Spec describes a check or task: its id, what it does, and its parameters.
type Spec struct {
	// ID is namespaced by provider: "http.status", "k8s.pods.unhealthy".
	ID          string
	Description string
	Params      []ParamSpec
	// Keywords are words and synonyms that route a plain-language question to this
	// check ("pods", "crashloop", "restarts").
	Keywords []string
	// Verbs, for a write task, are the words that, first in a question, ask for its
	// change ("scale", "cordon", "revoke"): such a question is a change request.
	Verbs []string
	// Categories are the kinds of question the check answers among others of every
	// provider: "anything exposed?" runs every check in CategoryExposure.
	Categories []string
	// Tracks marks a change-tracking check: it returns an Inventory (Track) that the
	// store compares with the item's baseline, and its findings are what changed.
	Tracks bool
}

// The categories a check may declare (Spec.Categories).
const (
	CategoryExposure = "exposure" // reachable from the internet: public endpoints, open ports, public buckets
	CategoryAccess   = "access"   // who may do what: RBAC bindings, IAM users and keys
	CategoryWaste    = "waste"    // money spent on nothing: idle or unattached resources
	CategoryHealth   = "health"   // is it working: pods, workloads, nodes, jobs
	CategoryCost     = "cost"     // what it costs: bills, anomalies, cost allocation
)

// Param returns the spec of the named parameter, including the common ones.
func (s Spec) Param(name string) (ParamSpec, bool) {
	for _, p := range s.allParams() {
		if p.Name == name {
			return p, true
		}
	}
	return ParamSpec{}, false
}

func (s Spec) allParams() []ParamSpec {
	common := commonParams()
	all := make([]ParamSpec, 0, len(s.Params)+len(common))
	all = append(all, s.Params...)
	for _, c := range common {
		if !hasParam(s.Params, c.Name) {
			all = append(all, c)
		}
	}
	return all
}

func hasParam(ps []ParamSpec, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

// SkipError says a check does not apply here (no kubeconfig, no credentials, a feature
// the account does not have). The run is recorded as skipped with the reason.
type SkipError struct {
	Reason string
}

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// Skip returns a *SkipError with the reason.
func Skip(reason string) error { return &SkipError{Reason: reason} }

// IsSkip reports whether err says the check was skipped, and why.
func IsSkip(err error) (string, bool) {
	var s *SkipError
	if errors.As(err, &s) {
		return s.Reason, true
	}
	return "", false
}
