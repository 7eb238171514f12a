package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clankerd/clankerd/heartbeat"
)

// Nodes walks the YAML nodes of one operator file (config.yaml, approvals.yaml) and
// collects every problem as "FILE:LINE: field: message", so that a file is reported
// whole, not one mistake at a time.
type Nodes struct {
	File string
	Errs heartbeat.Errors
}

// Root decodes data and returns its top node; nil for an empty document, and nil
// with the problem recorded when it is not YAML.
func (p *Nodes) Root(data []byte) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.Errs = append(p.Errs, heartbeat.Diagnostic{File: p.File, Msg: fmt.Sprintf("not valid YAML: %v", err)})
		return nil
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// Err is the file's problems as an error (heartbeat.Errors); nil when there are none.
func (p *Nodes) Err() error {
	if len(p.Errs) == 0 {
		return nil
	}
	return p.Errs
}

// Errorf records a problem of node n, in field (a dotted name; "" for the file).
func (p *Nodes) Errorf(n *yaml.Node, field, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	p.Errs = append(p.Errs, heartbeat.Diagnostic{File: p.File, Line: n.Line, Msg: msg})
}

// Each calls fn with every key of the mapping n, and the key's dotted field name.
func (p *Nodes) Each(n *yaml.Node, field string, fn func(key, field string, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.Errorf(n, field, "want key: value lines")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		fn(key, strings.TrimPrefix(field+"."+key, "."), n.Content[i+1])
	}
}

// List returns the values of a sequence of single values, reporting anything else.
func (p *Nodes) List(n *yaml.Node, field string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.Errorf(n, field, "want a list: [value, ...]")
		return nil
	}
	var out []*yaml.Node
	for _, v := range n.Content {
		if v.Kind != yaml.ScalarNode {
			p.Errorf(v, field, "want a single value in the list")
			continue
		}
		out = append(out, v)
	}
	return out
}

// Values returns the values of a list, as strings.
func (p *Nodes) Values(n *yaml.Node, field string) []string {
	var out []string
	for _, v := range p.List(n, field) {
		out = append(out, v.Value)
	}
	return out
}
