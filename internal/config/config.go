// Package config reads clankerd's own configuration file, config.yaml: what the
// operator allows agents (MCP clients, models) that clankerd does not allow them by
// default.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
)

// FileName is the configuration file's name in clankerd's config directory.
const FileName = "config.yaml"

// Config is the operator's configuration.
type Config struct {
	// Agents is what agents' runs may do besides the defaults; its Reach.Source is
	// the file, so that refusals say where to allow more.
	Agents checks.AgentPolicy
}

// Load reads the configuration file at path; a missing file is the defaults, which
// allow agents nothing the agent policy restricts. params are the parameters
// agents.params may list (checks.Registry.ConfiguredParams).
func Load(path string, params []string) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{Agents: checks.AgentPolicy{Reach: checks.Reach{Source: path}}}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("reading the configuration: %w", err)
	}
	return Parse(path, data, params)
}

// Parse reads a config.yaml:
//
//	agents:
//	  destinations: [127.0.0.1/32, 10.1.0.0/16]  # networks (or addresses) agents' runs may dial
//	  params:                                     # values agents may give these parameters
//	    context: [kind-dev]
//	    profile: [readonly]
//
// Every problem is reported, as heartbeat.Errors ("FILE:LINE: field: message").
func Parse(path string, data []byte, params []string) (Config, error) {
	cfg := Config{Agents: checks.AgentPolicy{Reach: checks.Reach{Source: path}}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return cfg, heartbeat.Errors{{File: path, Msg: fmt.Sprintf("not valid YAML: %v", err)}}
	}
	if len(doc.Content) == 0 {
		return cfg, nil
	}
	p := &parser{file: path, params: params}
	p.each(doc.Content[0], "", func(key, field string, v *yaml.Node) {
		if key != "agents" {
			p.errorf(v, field, "unknown key; the only key is agents (destinations, params)")
			return
		}
		p.agents(v, &cfg.Agents)
	})
	if len(p.errs) > 0 {
		return cfg, p.errs
	}
	return cfg, nil
}

// parser collects every problem of one file.
type parser struct {
	file   string
	params []string
	errs   heartbeat.Errors
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	p.errs = append(p.errs, heartbeat.Diagnostic{File: p.file, Line: n.Line, Msg: msg})
}

// each calls fn with every key of the mapping n, and the key's dotted field name.
func (p *parser) each(n *yaml.Node, field string, fn func(key, field string, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, field, "want key: value lines")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		fn(key, strings.TrimPrefix(field+"."+key, "."), n.Content[i+1])
	}
}

// list returns the values of a sequence of single values, reporting anything else.
func (p *parser) list(n *yaml.Node, field string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, field, "want a list: [value, ...]")
		return nil
	}
	var out []*yaml.Node
	for _, v := range n.Content {
		if v.Kind != yaml.ScalarNode {
			p.errorf(v, field, "want a single value in the list")
			continue
		}
		out = append(out, v)
	}
	return out
}

func (p *parser) agents(n *yaml.Node, policy *checks.AgentPolicy) {
	p.each(n, "agents", func(key, field string, v *yaml.Node) {
		switch field {
		case checks.DestinationsSetting:
			for _, d := range p.list(v, field) {
				if prefix, ok := parsePrefix(d.Value); ok {
					policy.Reach.Allow = append(policy.Reach.Allow, prefix)
				} else {
					p.errorf(d, field, "%q is not a network or an IP address (examples: 127.0.0.1/32, 10.1.0.0/16, ::1)", d.Value)
				}
			}
		case checks.ParamsSetting:
			policy.Values = p.values(v)
		default:
			p.errorf(v, field, "unknown key; valid keys: destinations, params")
		}
	})
}

// values reads agents.params: for each parameter, the values agents may give it.
func (p *parser) values(n *yaml.Node) map[string][]string {
	out := map[string][]string{}
	p.each(n, checks.ParamsSetting, func(name, field string, v *yaml.Node) {
		if !slices.Contains(p.params, name) {
			p.errorf(v, field, "agents need no value allowed for %q (or no check of this build takes it); the parameters that take the operator's values are %s", name, strings.Join(p.params, ", "))
			return
		}
		for _, s := range p.list(v, field) {
			out[name] = append(out[name], s.Value)
		}
	})
	return out
}

// parsePrefix reads a network (10.1.0.0/16) or a single address (10.1.2.3, ::1);
// IPv4-mapped IPv6 ones are their IPv4 network.
func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	pr, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	if a := pr.Addr(); a.Is4In6() {
		bits := pr.Bits() - 96
		if bits < 0 {
			return netip.Prefix{}, false
		}
		pr = netip.PrefixFrom(a.Unmap(), bits)
	}
	return pr.Masked(), true
}
