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
	p := &parser{Nodes: Nodes{File: path}, params: params}
	root := p.Root(data)
	if root == nil {
		return cfg, p.Err()
	}
	p.Each(root, "", func(key, field string, v *yaml.Node) {
		if key != "agents" {
			p.Errorf(v, field, "unknown key; the only key is agents (destinations, params)")
			return
		}
		p.agents(v, &cfg.Agents)
	})
	return cfg, p.Err()
}

// parser reads one config.yaml, collecting every problem.
type parser struct {
	Nodes
	params []string
}

func (p *parser) agents(n *yaml.Node, policy *checks.AgentPolicy) {
	p.Each(n, "agents", func(key, field string, v *yaml.Node) {
		switch field {
		case checks.DestinationsSetting:
			for _, d := range p.List(v, field) {
				if prefix, ok := parsePrefix(d.Value); ok {
					policy.Reach.Allow = append(policy.Reach.Allow, prefix)
				} else {
					p.Errorf(d, field, "%q is not a network or an IP address (examples: 127.0.0.1/32, 10.1.0.0/16, ::1)", d.Value)
				}
			}
		case checks.ParamsSetting:
			policy.Values = p.values(v)
		default:
			p.Errorf(v, field, "unknown key; valid keys: destinations, params")
		}
	})
}

// values reads agents.params: for each parameter, the values agents may give it.
func (p *parser) values(n *yaml.Node) map[string][]string {
	out := map[string][]string{}
	p.Each(n, checks.ParamsSetting, func(name, field string, v *yaml.Node) {
		if !slices.Contains(p.params, name) {
			p.Errorf(v, field, "agents need no value allowed for %q (or no check of this build takes it); the parameters that take the operator's values are %s", name, strings.Join(p.params, ", "))
			return
		}
		for _, s := range p.List(v, field) {
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
