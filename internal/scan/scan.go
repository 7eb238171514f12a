// Package scan chooses what `clankerd scan` runs: every check of the chosen providers
// once, read-only, narrowed by the context, namespace, profile and GitHub scope the
// operator gave.
package scan

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/route"
)

// Scope narrows a scan: each value set is given to the checks that take the
// parameter of that name, and left out of those that do not.
type Scope struct {
	Context   string // kubeconfig context (context=)
	Namespace string // Kubernetes namespace (namespace=)
	Profile   string // AWS shared config profile (profile=)
	Owner     string // GitHub organization or user (owner=)
	Repos     string // GitHub repositories OWNER/NAME, comma-separated (repos=)
	Topic     string // with Owner: only GitHub repositories with this topic (topic=)
	APIURL    string // GitHub API base URL, for GitHub Enterprise Server (api_url=)
}

// params is the scope as parameter values, by parameter name.
func (s Scope) params() map[string]string {
	out := map[string]string{}
	for name, v := range map[string]string{
		"context": s.Context, "namespace": s.Namespace, "profile": s.Profile,
		"owner": s.Owner, "repos": s.Repos, "topic": s.Topic, "api_url": s.APIURL,
	} {
		if v != "" {
			out[name] = v
		}
	}
	return out
}

// Left is a check a scan leaves out, and why.
type Left struct {
	Check  string
	Reason string
}

// Plan is what a scan runs and what it leaves out.
type Plan struct {
	Items []heartbeat.Item
	Left  []Left
}

// Items makes an item of every check (never a task) that one of owners owns, with
// the scope's parameters that the check takes. Checks that need a parameter the scope
// cannot give (a budget, a URL) are left out and listed. The items' keys depend only
// on the check id and the scope, so a second scan of the same scope continues the
// first one's history: its findings are unchanged, not new. Items have no fix=: a
// scan never queues a plan.
func Items(reg *checks.Registry, owners []route.Owner, s Scope) (Plan, error) {
	var out Plan
	var errs []error
	raw := s.params()
	for _, spec := range reg.Specs() {
		if _, kind, _ := reg.Lookup(spec.ID); kind != checks.KindCheck || !owned(owners, spec.ID) {
			continue
		}
		if missing := required(spec, raw); len(missing) > 0 {
			out.Left = append(out.Left, Left{Check: spec.ID, Reason: "needs " + strings.Join(missing, "=, ") + "=; write it in a heartbeat item"})
			continue
		}
		given := map[string]string{}
		for name, v := range raw {
			if _, ok := spec.Param(name); ok {
				given[name] = v
			}
		}
		params, err := spec.Bind(given, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", spec.ID, err))
			continue
		}
		out.Items = append(out.Items, heartbeat.NewItem(heartbeat.OriginScan, heartbeat.Operator, spec.ID, checks.KindCheck, params, ""))
	}
	return out, errors.Join(errs...)
}

func owned(owners []route.Owner, id string) bool {
	return slices.ContainsFunc(owners, func(o route.Owner) bool { return o.Owns(id) })
}

// required is the names of the spec's required parameters that raw does not give.
func required(spec checks.Spec, raw map[string]string) []string {
	var missing []string
	for _, p := range spec.Params {
		if _, ok := raw[p.Name]; p.Required && !ok {
			missing = append(missing, p.Name)
		}
	}
	return missing
}
