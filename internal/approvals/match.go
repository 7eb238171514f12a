package approvals

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// ErrNoRule: no rule of the policy approves the plan.
var ErrNoRule = errors.New("no approvals rule matches")

// NoMatchError says why each rule of the policy does not approve a plan, and what a
// rule that did would name. It matches ErrNoRule.
type NoMatchError struct {
	File string
	// Misses are the reasons of each rule, by rule name, in the file's order.
	Misses []RuleMisses
	// Need is a rule that would match, in the file's words.
	Need string
}

// RuleMisses are the reasons one rule does not approve a plan.
type RuleMisses struct {
	Rule    string
	Reasons []string
}

func (e *NoMatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: no rule in %s approves this plan", ErrNoRule, e.File)
	if len(e.Misses) == 0 {
		b.WriteString(" (it has no rules)")
	}
	for _, m := range e.Misses {
		fmt.Fprintf(&b, "; rule %q: %s", m.Rule, strings.Join(m.Reasons, ", "))
	}
	fmt.Fprintf(&b, "; a rule would need %s", e.Need)
	return b.String()
}

func (e *NoMatchError) Unwrap() error { return ErrNoRule }

// Match returns the first rule that approves plan at now, or a *NoMatchError.
func (p Policy) Match(plan checks.Plan, now time.Time) (Rule, error) {
	e := &NoMatchError{File: p.File, Need: need(plan)}
	for _, r := range p.Rules {
		reasons := r.Misses(plan, now)
		if len(reasons) == 0 {
			return r, nil
		}
		e.Misses = append(e.Misses, RuleMisses{Rule: r.Name, Reasons: reasons})
	}
	return Rule{}, e
}

// Misses says why r does not approve plan at now; none when it does.
func (r Rule) Misses(plan checks.Plan, now time.Time) []string {
	var out []string
	if !now.Before(r.Expires) {
		out = append(out, "expired "+r.Expires.Format(time.RFC3339))
	}
	if plan.Task != r.Task {
		out = append(out, fmt.Sprintf("the rule is for %s, the plan is %s", r.Task, plan.Task))
	}
	if ok, _ := path.Match(r.Target, plan.Target); !ok {
		out = append(out, fmt.Sprintf("target %q does not match %q", plan.Target, r.Target))
	}
	for _, name := range slices.Sorted(maps.Keys(r.Params)) {
		if miss := r.Params[name].miss(name, plan.Params); miss != "" {
			out = append(out, miss)
		}
	}
	if riskRank(plan.Risk) < 0 || riskRank(plan.Risk) > riskRank(r.MaxRisk) {
		out = append(out, fmt.Sprintf("risk %s is above max_risk %s", plan.Risk, r.MaxRisk))
	}
	if max := r.MaxMonthlyCostIncrease; max != nil {
		switch cost := plan.MonthlyCostChangeUSD; {
		case cost == nil:
			out = append(out, fmt.Sprintf("the plan's monthly cost is unknown and max_monthly_cost_increase is %v", *max))
		case *cost > *max:
			out = append(out, fmt.Sprintf("monthly cost +%.2f USD is above max_monthly_cost_increase %v", *cost, *max))
		}
	}
	out = append(out, listMiss("context", r.Contexts, plan.Params)...)
	out = append(out, listMiss("profile", r.Profiles, plan.Params)...)
	return out
}

func listMiss(param string, allowed []string, params checks.Params) []string {
	if len(allowed) == 0 || slices.Contains(allowed, params.Get(param)) {
		return nil
	}
	v := params.Get(param)
	if v == "" {
		return []string{fmt.Sprintf("the plan names no %s= and the rule allows only %s", param, strings.Join(allowed, ", "))}
	}
	return []string{fmt.Sprintf("%s %q is not one of %s", param, v, strings.Join(allowed, ", "))}
}

// miss says why the parameter's value is out of bounds; "" when it is within them.
func (b Bound) miss(name string, params checks.Params) string {
	if !params.Has(name) {
		return fmt.Sprintf("the plan has no %s", name)
	}
	v := params.Get(name)
	if b.Values != nil {
		if slices.Contains(b.Values, v) {
			return ""
		}
		return fmt.Sprintf("%s %q is not one of %s", name, v, strings.Join(b.Values, ", "))
	}
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil:
		return fmt.Sprintf("%s %q is not a number", name, v)
	case b.Min != nil && f < *b.Min, b.Max != nil && f > *b.Max:
		return fmt.Sprintf("%s %s is outside %s", name, v, b)
	}
	return ""
}

func (b Bound) String() string {
	lo, hi := "-∞", "∞"
	if b.Min != nil {
		lo = strconv.FormatFloat(*b.Min, 'f', -1, 64)
	}
	if b.Max != nil {
		hi = strconv.FormatFloat(*b.Max, 'f', -1, 64)
	}
	return lo + "–" + hi
}

// need is the rule that would approve plan, in the file's words.
func need(plan checks.Plan) string {
	parts := []string{"task: " + plan.Task, fmt.Sprintf("target matching %q", plan.Target)}
	parts = append(parts, "max_risk: "+strings.ToLower(string(plan.Risk))+" or above")
	if c := plan.MonthlyCostChangeUSD; c != nil && *c > 0 {
		parts = append(parts, fmt.Sprintf("max_monthly_cost_increase: %.2f or more", *c))
	}
	for _, name := range []string{"context", "profile"} {
		if v := plan.Params.Get(name); v != "" {
			parts = append(parts, fmt.Sprintf("%ss listing %s", name, v))
		}
	}
	return strings.Join(append(parts, "an expiry in the future"), ", ")
}
