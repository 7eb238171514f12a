package checks

import (
	"cmp"
	"fmt"
	"slices"
)

// Fact is one normalised statement about exposure or access on one resource, as a
// change-tracking check reports it: "LoadBalancer 443/TCP from 0.0.0.0/0" on
// service/shop/admin, "clusterrole/edit in namespace prod" on serviceaccount/ci/deployer.
// The store compares the facts of a run with the item's baseline: a fact that is not in
// the baseline is a finding on its resource, a fact of the baseline that is gone is
// reported once as information and leaves the baseline.
//
// Key is the fact's identity: it must be the same text every run while the fact holds
// (sorted lists, no times, no counters), and a different text when it widens or
// narrows. Severity and Summary describe the fact when it is new.
type Fact struct {
	Resource string   `json:"resource"`
	Key      string   `json:"key"`
	Severity Severity `json:"severity"`
	// Summary says what the fact means when it is beyond the baseline, in a few words
	// ("public endpoint LoadBalancer 443/TCP"); the store names the resource.
	Summary string `json:"summary,omitempty"`
	// Fix is what to do about it when it is not wanted.
	Fix string `json:"fix,omitempty"`
}

// Inventory is what a change-tracking check read: every fact that holds now, in one
// slice of inventory (a kind of object, a scope). Empty is not the same as absent: an
// inventory with no facts says there is nothing exposed.
type Inventory struct {
	Facts []Fact `json:"facts"`
	// FromEmpty, on an item's first run, compares the facts with an empty baseline
	// (everything present is a finding) instead of recording them as the baseline.
	FromEmpty bool `json:"from_empty,omitempty"`
}

// BaselineParam is the parameter of every change-tracking check that says what its
// first run compares with.
func BaselineParam() ParamSpec {
	return ParamSpec{
		Name:    "baseline",
		Type:    Enum,
		Choices: []string{"record", "empty"},
		Default: "record",
		Doc: "what the first run compares with: record takes what is there as the baseline and reports nothing; " +
			"empty reports everything present (an audit of a new account)",
	}
}

// Track returns the result of a change-tracking check: its facts, sorted and with
// duplicates removed, compared by the store with the item's baseline. p is the
// check's parameters (BaselineParam among them).
func Track(p Params, facts []Fact) (Result, error) {
	for _, f := range facts {
		if f.Resource == "" || f.Key == "" {
			return Result{}, fmt.Errorf("change-tracking fact %+v has no resource or key: this is a bug in the check", f)
		}
		if f.Severity.Rank() == 0 {
			return Result{}, fmt.Errorf("change-tracking fact %s %q has no valid severity: this is a bug in the check", f.Resource, f.Key)
		}
	}
	facts = slices.Clone(facts)
	slices.SortFunc(facts, func(a, b Fact) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Key, b.Key))
	})
	facts = slices.CompactFunc(facts, func(a, b Fact) bool { return a.Resource == b.Resource && a.Key == b.Key })
	if facts == nil {
		facts = []Fact{}
	}
	return Result{Inventory: &Inventory{Facts: facts, FromEmpty: p.Get("baseline") == "empty"}}, nil
}
