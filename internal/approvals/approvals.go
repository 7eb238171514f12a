// Package approvals reads the operator's approvals policy, approvals.yaml: the rules
// under which a plan may be approved without a person answering for it, and which
// rule, if any, matches a plan. It decides nothing by itself: the caller approves a
// matching plan through the one approve operation, naming the rule.
package approvals

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/config"
	"github.com/clankerd/clankerd/internal/private"
)

// FileName is the policy's name in clankerd's config directory.
const FileName = "approvals.yaml"

// maxFile bounds what Load reads: a policy is a few rules.
const maxFile = 1 << 20

// ErrNoPolicy: there is no policy file, so no plan is approved by policy.
var ErrNoPolicy = errors.New("no approvals policy")

// Policy is the operator's rules, in the order the file gives them.
type Policy struct {
	File  string
	Rules []Rule
}

// Rule approves plans of one task whose target, parameters, risk, cost and context it
// bounds, until it expires.
type Rule struct {
	Name string
	Task string
	// Target is a pattern of path.Match over the plan's target ("deployment/shop/*").
	Target string
	// Params bounds the plan's parameters by name; parameters it does not name are not
	// bounded (contexts and profiles are bounded by their own fields).
	Params  map[string]Bound
	MaxRisk checks.Risk
	// MaxMonthlyCostIncrease is the largest estimated monthly cost increase in USD;
	// nil accepts any. A plan whose cost is unknown does not match a rule that sets it.
	MaxMonthlyCostIncrease *float64
	// Contexts and Profiles, when given, are the values the plan's context= and
	// profile= must have; a plan that names none does not match.
	Contexts, Profiles []string
	Expires            time.Time
	Reason             string
	// Line is where the rule starts in the file.
	Line int
}

// Bound limits one parameter: a number between Min and Max (inclusive), or one of
// Values.
type Bound struct {
	Min, Max *float64
	Values   []string
}

// Catalog finds tasks by id, to lint a rule's task and parameters; *checks.Registry
// implements it.
type Catalog interface {
	Lookup(id string) (checks.Spec, checks.Kind, bool)
}

// Load reads the policy at path. The file must be the user's own and writable by
// nobody else (private.ReadOwnFile); a missing file is ErrNoPolicy. catalog, when not
// nil, checks that each rule's task and parameters exist.
func Load(path string, catalog Catalog) (Policy, error) {
	data, err := private.ReadOwnFile(path, maxFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Policy{File: path}, fmt.Errorf("%w: %s does not exist; write rules there (docs/approvals.md) or approve with `clankerd approve ID`", ErrNoPolicy, path)
	}
	if err != nil {
		return Policy{File: path}, fmt.Errorf("approvals policy: %w", err)
	}
	return Parse(path, data, catalog)
}

// Parse reads an approvals.yaml:
//
//	rules:
//	  - name: scale-shop-api
//	    task: k8s.deployment.scale
//	    target: deployment/shop/*
//	    params:
//	      replicas: {min: 1, max: 6}
//	    max_risk: medium
//	    max_monthly_cost_increase: 50
//	    contexts: [kind-dev]
//	    expires: 2027-06-30
//	    reason: the shop team scales its own API within its budget
//
// name, task, target, max_risk, expires and reason are required. Every problem is
// reported, as heartbeat.Errors ("FILE:LINE: field: message").
func Parse(file string, data []byte, catalog Catalog) (Policy, error) {
	pol := Policy{File: file}
	p := &parser{Nodes: config.Nodes{File: file}, catalog: catalog}
	root := p.Root(data)
	if root == nil {
		return pol, p.Err()
	}
	p.Each(root, "", func(key, field string, v *yaml.Node) {
		if key != "rules" {
			p.Errorf(v, field, "unknown key; the only key is rules")
			return
		}
		if v.Kind != yaml.SequenceNode {
			p.Errorf(v, field, "want a list of rules (- name: …)")
			return
		}
		seen := map[string]bool{}
		for i, n := range v.Content {
			r := p.rule(n, fmt.Sprintf("rules[%d]", i))
			if r.Name != "" && seen[r.Name] {
				p.Errorf(n, "name", "rule %q is named twice; the audit log names rules, so each needs its own name", r.Name)
			}
			seen[r.Name] = true
			pol.Rules = append(pol.Rules, r)
		}
	})
	return pol, p.Err()
}

type parser struct {
	config.Nodes
	catalog Catalog
}

// required are the fields every rule gives.
var required = []string{"name", "task", "target", "max_risk", "expires", "reason"}

func (p *parser) rule(n *yaml.Node, at string) Rule {
	r := Rule{Line: n.Line}
	given := map[string]*yaml.Node{}
	if name := valueOf(n, "name"); name != nil && name.Kind == yaml.ScalarNode {
		at = fmt.Sprintf("rule %q", name.Value)
	}
	p.Each(n, at, func(key, field string, v *yaml.Node) {
		given[key] = v
		switch key {
		case "name":
			r.Name = p.scalar(v, field)
		case "task":
			r.Task = p.scalar(v, field)
		case "target":
			r.Target = p.scalar(v, field)
			if _, err := path.Match(r.Target, ""); err != nil {
				p.Errorf(v, field, "%q is not a pattern (path.Match: * ? [a-z]): %v", r.Target, err)
			}
		case "params":
			r.Params = p.bounds(v, field)
		case "max_risk":
			r.MaxRisk = checks.Risk(strings.ToUpper(p.scalar(v, field)))
			if riskRank(r.MaxRisk) < 0 {
				p.Errorf(v, field, "%q is not a risk; want low, medium or high", v.Value)
			}
		case "max_monthly_cost_increase":
			f, ok := p.number(v, field)
			if ok {
				r.MaxMonthlyCostIncrease = &f
			}
		case "contexts":
			r.Contexts = p.Values(v, field)
		case "profiles":
			r.Profiles = p.Values(v, field)
		case "expires":
			r.Expires = p.time(v, field)
		case "reason":
			r.Reason = strings.TrimSpace(p.scalar(v, field))
		default:
			p.Errorf(v, field, "unknown key; valid keys: name, task, target, params, max_risk, max_monthly_cost_increase, contexts, profiles, expires, reason")
		}
	})
	if n.Kind != yaml.MappingNode {
		return r
	}
	for _, k := range required {
		if given[k] == nil {
			p.Errorf(n, at, "%s is required (a rule names %s)", k, strings.Join(required, ", "))
		}
	}
	p.lint(given, at, r)
	return r
}

// lint checks the rule's task and parameters against the catalog.
func (p *parser) lint(given map[string]*yaml.Node, at string, r Rule) {
	if p.catalog == nil || r.Task == "" {
		return
	}
	spec, kind, ok := p.catalog.Lookup(r.Task)
	if !ok || kind != checks.KindTask {
		p.Errorf(given["task"], at+".task", "%q is no write task of this build; see `clankerd lint --list`", r.Task)
		return
	}
	for _, name := range slices.Sorted(maps.Keys(r.Params)) {
		if _, ok := spec.Param(name); !ok {
			p.Errorf(valueOf(given["params"], name), at+".params."+name, "%s takes no parameter %q", r.Task, name)
		}
	}
}

// valueOf is the value of key in mapping n; nil when it has none.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (p *parser) scalar(v *yaml.Node, field string) string {
	if v.Kind != yaml.ScalarNode {
		p.Errorf(v, field, "want a single value")
		return ""
	}
	return v.Value
}

func (p *parser) number(v *yaml.Node, field string) (float64, bool) {
	f, err := strconv.ParseFloat(p.scalar(v, field), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.Errorf(v, field, "%q is not a number", v.Value)
		return 0, false
	}
	return f, true
}

func (p *parser) time(v *yaml.Node, field string) time.Time {
	s := p.scalar(v, field)
	for _, layout := range []string{time.DateOnly, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	p.Errorf(v, field, "%q is not a date; want 2027-06-30 or 2027-06-30T18:00:00Z", s)
	return time.Time{}
}

func (p *parser) bounds(n *yaml.Node, field string) map[string]Bound {
	out := map[string]Bound{}
	p.Each(n, field, func(name, field string, v *yaml.Node) {
		var b Bound
		p.Each(v, field, func(key, field string, v *yaml.Node) {
			switch key {
			case "min", "max":
				if f, ok := p.number(v, field); ok {
					if key == "min" {
						b.Min = &f
					} else {
						b.Max = &f
					}
				}
			case "values":
				b.Values = p.Values(v, field)
			default:
				p.Errorf(v, field, "unknown key; a parameter is bounded by min and max, or by values")
			}
		})
		switch {
		case b.Min == nil && b.Max == nil && b.Values == nil:
			p.Errorf(v, field, "bounds nothing; give min and max, or values")
		case b.Values != nil && (b.Min != nil || b.Max != nil):
			p.Errorf(v, field, "give min and max, or values, not both")
		case b.Min != nil && b.Max != nil && *b.Min > *b.Max:
			p.Errorf(v, field, "min %v is above max %v", *b.Min, *b.Max)
		}
		out[name] = b
	})
	return out
}

// riskRank orders risks; -1 for a value that is none.
func riskRank(r checks.Risk) int {
	return slices.Index([]checks.Risk{checks.RiskLow, checks.RiskMedium, checks.RiskHigh}, r)
}
