package checks

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// The runs of agents — an MCP client, or a model choosing checks — are held to an
// AgentPolicy: each parameter says how an agent may set it (ParamSpec.Agent), Admit
// decides before anything runs, and the policy's Reach is enforced where probes dial.
// Items the operator wrote or asked for are not restricted.

// AgentRule says how an agent may set a parameter.
type AgentRule int

// How agents may set a parameter; the zero value allows any valid value.
const (
	// AgentAllowed: agents may give the parameter any valid value.
	AgentAllowed AgentRule = iota
	// AgentRefused: the parameter makes the result reveal content of what is checked
	// (http.status contains= turns pass and fail into a reading of the body), so no
	// agent may set it; heartbeat items written by the operator may.
	AgentRefused
	// AgentConfigured: the parameter chooses credentials, trust, a file or where
	// signed requests go (profile, context, endpoint, ca, insecure): agents may give
	// it only the values the operator lists in agents.params.NAME.
	AgentConfigured
)

// Configuration settings named in messages: the keys of the operator's config.yaml
// that allow agents more (internal/config reads them).
const (
	DestinationsSetting = "agents.destinations"
	ParamsSetting       = "agents.params"
)

// AgentPolicy is what the operator allows agents' runs beyond the defaults, which
// refuse every AgentRefused parameter, every AgentConfigured value and every
// destination that is not a public address. The zero value is those defaults.
type AgentPolicy struct {
	// Reach holds the destinations agents' runs may dial besides public addresses.
	Reach Reach
	// Values are, by parameter name, the values agents may give AgentConfigured
	// parameters, compared as written (booleans by meaning).
	Values map[string][]string
}

// AgentError is a parameter an agent may not set: which one, why, and the setting
// that would allow it (none for an AgentRefused parameter).
type AgentError struct {
	Check, Param, Value string
	Rule                AgentRule
	// Source is the configuration file the setting goes in.
	Source string
}

func (e *AgentError) Error() string {
	if e.Rule == AgentRefused {
		return fmt.Sprintf("parameter %s: refused for an agent: %s %s= would reveal the content of what is checked to whoever reads the result; no setting allows it for agents: write the item in a heartbeat file instead", e.Param, e.Check, e.Param)
	}
	return fmt.Sprintf("parameter %s: refused for an agent: %s=%s chooses credentials, trust or where requests go, and agents may use only the values the operator allows; to allow it, add %s to %s.%s in %s",
		e.Param, e.Param, QuoteValue(e.Value), strconv.Quote(e.Value), ParamsSetting, e.Param, sourceOr(e.Source))
}

// Admit returns nil when an agent may run spec with params, and otherwise an
// *AgentError for every parameter it may not set, joined. A parameter left at its
// declared default is always admitted: the operator's runs get the same.
func (p AgentPolicy) Admit(spec Spec, params Params) error {
	var errs []error
	for _, ps := range spec.allParams() {
		if ps.Agent == AgentAllowed || !params.Has(ps.Name) {
			continue
		}
		v := params.Get(ps.Name)
		if ps.Default != "" && ps.sameValue(v, ps.Default) {
			continue
		}
		if ps.Agent == AgentConfigured && slices.ContainsFunc(p.Values[ps.Name], func(a string) bool { return ps.sameValue(a, v) }) {
			continue
		}
		errs = append(errs, &AgentError{Check: spec.ID, Param: ps.Name, Value: v, Rule: ps.Agent, Source: p.Reach.Source})
	}
	return errors.Join(errs...)
}

// sameValue compares two values of the parameter: booleans by meaning, the rest as
// written.
func (ps ParamSpec) sameValue(a, b string) bool {
	if ps.Type == Bool {
		x, errA := parseBool(a)
		y, errB := parseBool(b)
		return errA == nil && errB == nil && x == y
	}
	return a == b
}

// ConfiguredParams returns the names of every AgentConfigured parameter of the
// registry's checks and tasks, sorted: the keys agents.params takes.
func (r *Registry) ConfiguredParams() []string {
	return r.paramSet(func(p ParamSpec) string {
		if p.Agent == AgentConfigured {
			return p.Name
		}
		return ""
	})
}

func sourceOr(source string) string {
	if source == "" {
		return "clankerd's config.yaml"
	}
	return source
}
