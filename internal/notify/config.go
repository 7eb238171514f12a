package notify

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/config"
)

// Policy says how long and how often the sender tries.
type Policy struct {
	// MaxAge: an event not delivered this long after it was queued expires (24h).
	MaxAge time.Duration
	// RetryInitial is the wait after the first failure, doubled after each further
	// one up to RetryMax (5s, 10m).
	RetryInitial, RetryMax time.Duration
	// Timeout bounds one delivery attempt (10s).
	Timeout time.Duration
}

// DefaultPolicy is the policy when notify.yaml sets none.
var DefaultPolicy = Policy{MaxAge: 24 * time.Hour, RetryInitial: 5 * time.Second, RetryMax: 10 * time.Minute, Timeout: 10 * time.Second}

// RateLimit allows N notifications per Per to a target; more wait in the outbox. The
// zero value is no limit.
type RateLimit struct {
	N   int
	Per time.Duration
}

// Destination is a configured target with its delivery rules.
type Destination struct {
	Name string
	// Type is webhook, slack, desktop or command.
	Type        string
	MinSeverity checks.Severity
	RateLimit   RateLimit
	// Where describes the target for people, with secrets redacted.
	Where string
	// Source is the FILE:LINE that declared it.
	Source string
	// Items limits the target to the events of these item keys (a heartbeat file's
	// items, when it is declared in the file's front matter); nil means every event.
	Items  map[string]bool
	Target Target
	// reference: a heartbeat file named the notify.yaml target Name; Merge resolves it.
	reference bool
}

// Wants reports whether the destination takes events of the item. A fix plan's item
// key ("ITEM/fix/FINGERPRINT") belongs to the item that found the problem.
func (d Destination) Wants(item string) bool {
	if d.Items == nil {
		return true
	}
	return d.Items[heartbeat.OwnerKey(item)]
}

// Config is the notification setup: the delivery policy and every destination.
type Config struct {
	Policy       Policy
	Destinations []Destination
}

// Env is what building targets needs from outside: environment variables (for URLs
// and secrets named by url_env and secret_env) and the HTTP client.
type Env struct {
	Getenv func(string) string
	Client *http.Client
	// SkipLookup checks the configuration without reading the variables it names
	// (for lint): they count as set to a valid value, and no target is usable.
	SkipLookup bool
}

// placeholderURL stands for a variable's value when lookups are skipped.
const placeholderURL = "https://unread.invalid/"

func (e Env) getenv(k string) string {
	switch {
	case e.SkipLookup:
		return placeholderURL
	case e.Getenv == nil:
		return os.Getenv(k)
	}
	return e.Getenv(k)
}

// targetType is one kind of notification target: the keys it takes besides name,
// type, min_severity and rate_limit, whether only notify.yaml may declare it, and how
// it is built from what was written.
type targetType struct {
	keys []string
	// configOnly: the target runs programs, so a heartbeat file (which may be shared)
	// cannot declare it; only notify.yaml can.
	configOnly bool
	build      func(d *decoder, n *yaml.Node, spec targetSpec, dest *Destination)
}

// targetTypes is every kind of target, by the name notify.yaml gives its type: the one
// table a new kind of target is added to.
var targetTypes = map[string]targetType{
	"webhook": {keys: []string{"url", "url_env", "secret_env"}, build: buildWebhook},
	"slack":   {keys: []string{"url", "url_env"}, build: buildWebhook},
	"command": {keys: []string{"command"}, configOnly: true, build: buildCommand},
	"desktop": {build: func(_ *decoder, _ *yaml.Node, _ targetSpec, dest *Destination) {
		dest.Where, dest.Target = "desktop", &Desktop{}
	}},
}

// typeNames lists the target types for messages.
func typeNames() string { return strings.Join(slices.Sorted(maps.Keys(targetTypes)), ", ") }

var (
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	envVarPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// LoadFile reads a notify.yaml; a missing file is an empty configuration.
func LoadFile(path string, env Env) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{Policy: DefaultPolicy}, nil
	}
	if err != nil {
		return Config{Policy: DefaultPolicy}, fmt.Errorf("reading the notification config: %w", err)
	}
	return ParseFile(path, data, env)
}

// ParseFile reads a notify.yaml:
//
//	delivery: {max_age: 24h, retry_initial: 5s, retry_max: 10m, timeout: 10s}
//	targets:
//	  - {name: ops, type: webhook, url_env: OPS_HOOK_URL, secret_env: OPS_HOOK_SECRET}
//
// Every problem is reported, as heartbeat.Errors ("FILE:LINE: field: message").
func ParseFile(path string, data []byte, env Env) (Config, error) {
	cfg := Config{Policy: DefaultPolicy}
	d := &decoder{Nodes: config.Nodes{File: path}, env: env}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return cfg, heartbeat.Errors{{File: path, Msg: fmt.Sprintf("not valid YAML: %v", err)}}
	}
	if len(doc.Content) == 0 {
		return cfg, nil
	}
	root := doc.Content[0]
	d.mapping(root, "", func(key string, v *yaml.Node) {
		switch key {
		case "delivery":
			cfg.Policy = d.policy(v)
		case "targets":
			cfg.Destinations = d.targets(v, nil)
		default:
			d.Errorf(v, key, "unknown key; valid keys: delivery, targets")
		}
	})
	return cfg, d.err()
}

// FromHeartbeat reads the targets of a heartbeat file's front matter (notify: a list
// of targets, as in notify.yaml, or of names of notify.yaml targets); they take only
// the events of that file's items. A heartbeat file may be shared, so it cannot
// declare command targets, and the only variables it may name start with CLANKERD_
// (EnvPrefix): otherwise it could have the daemon sign with, or post to, any variable
// of its environment. A name is resolved by Merge.
func FromHeartbeat(f *heartbeat.File, env Env) ([]Destination, error) {
	if f.Notify == nil {
		return nil, nil
	}
	items := map[string]bool{}
	for _, it := range f.Items {
		items[it.Key] = true
	}
	d := &decoder{Nodes: config.Nodes{File: f.Path}, env: env, shared: true}
	dests := d.targets(f.Notify, items)
	return dests, d.err()
}

// EnvPrefix starts every variable a heartbeat file's front matter may name (url_env,
// secret_env); notify.yaml may name any.
const EnvPrefix = "CLANKERD_"

// Merge joins the destinations of notify.yaml and of heartbeat files. A name declared
// twice is an error, and the later one is left out. A heartbeat file's reference to a
// notify.yaml target by name gives that target the file's events when its scope is
// named (it has every event otherwise); a reference to no notify.yaml target is an
// error.
func Merge(config []Destination, heartbeats ...[]Destination) ([]Destination, error) {
	var errs heartbeat.Errors
	fail := func(d Destination, format string, args ...any) {
		file, line := splitSource(d.Source)
		errs = append(errs, heartbeat.Diagnostic{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	out := slices.Clone(config)
	seen := map[string]string{}
	for i, d := range out {
		if d.Items != nil {
			out[i].Items = maps.Clone(d.Items) // filled in below: the caller's stays as it was
		}
		seen[d.Name] = d.Source
	}
	for _, l := range heartbeats {
		for _, d := range l {
			if d.reference {
				i := slices.IndexFunc(config, func(c Destination) bool { return c.Name == d.Name })
				if i < 0 {
					fail(d, "notify: no target %q in notify.yaml; define it there, or declare the target here", d.Name)
					continue
				}
				if out[i].Items != nil {
					maps.Copy(out[i].Items, d.Items)
				}
				continue
			}
			if first, dup := seen[d.Name]; dup {
				fail(d, "name: target %q is already declared at %s; give each target its own name", d.Name, first)
				continue
			}
			seen[d.Name] = d.Source
			out = append(out, d)
		}
	}
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

func splitSource(src string) (string, int) {
	i := strings.LastIndexByte(src, ':')
	if i < 0 {
		return src, 0
	}
	n, _ := strconv.Atoi(src[i+1:])
	return src[:i], n
}

// decoder collects every problem of one file (config.Nodes records them).
type decoder struct {
	config.Nodes
	env Env
	// shared: the file is a heartbeat file, which may be shared. It must not make the
	// daemon run programs (command targets) or read variables outside EnvPrefix.
	shared bool
}

// err returns every problem, in line order.
func (d *decoder) err() error {
	if len(d.Errs) == 0 {
		return nil
	}
	slices.SortStableFunc(d.Errs, func(a, b heartbeat.Diagnostic) int { return a.Line - b.Line })
	return d.Errs
}

// mapping calls fn for every key of a mapping node.
func (d *decoder) mapping(n *yaml.Node, field string, fn func(key string, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, field, "want key: value lines")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		fn(n.Content[i].Value, n.Content[i+1])
	}
}

func (d *decoder) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.Errorf(n, field, "want a single value")
		return "", false
	}
	return n.Value, true
}

func (d *decoder) duration(n *yaml.Node, field string) time.Duration {
	s, ok := d.scalar(n, field)
	if !ok {
		return 0
	}
	v, err := checks.ParseDuration(s)
	if err != nil || v <= 0 {
		d.Errorf(n, field, "%q is not a positive duration (examples: 30s, 5m, 24h)", s)
		return 0
	}
	return v
}

func (d *decoder) policy(n *yaml.Node) Policy {
	p := DefaultPolicy
	d.mapping(n, "delivery", func(key string, v *yaml.Node) {
		field := "delivery." + key
		switch key {
		case "max_age":
			p.MaxAge = cmpOr(d.duration(v, field), p.MaxAge)
		case "retry_initial":
			p.RetryInitial = cmpOr(d.duration(v, field), p.RetryInitial)
		case "retry_max":
			p.RetryMax = cmpOr(d.duration(v, field), p.RetryMax)
		case "timeout":
			p.Timeout = cmpOr(d.duration(v, field), p.Timeout)
		default:
			d.Errorf(v, field, "unknown key; valid keys: max_age, retry_initial, retry_max, timeout")
		}
	})
	if p.RetryMax < p.RetryInitial {
		d.Errorf(n, "delivery.retry_max", "%s is shorter than retry_initial %s", p.RetryMax, p.RetryInitial)
	}
	return p
}

func cmpOr(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

func (d *decoder) targets(n *yaml.Node, items map[string]bool) []Destination {
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, "targets", "want a list of targets (- name: ..., type: ...)")
		return nil
	}
	var out []Destination
	for _, t := range n.Content {
		if t.Kind == yaml.ScalarNode && d.shared {
			out = append(out, d.reference(t, items))
			continue
		}
		if dest, ok := d.target(t); ok {
			if d.shared {
				dest.Items = items
			}
			out = append(out, dest)
		}
	}
	return out
}

// reference reads a heartbeat file's "- NAME": the notify.yaml target NAME, which
// Merge finds.
func (d *decoder) reference(n *yaml.Node, items map[string]bool) Destination {
	if !namePattern.MatchString(n.Value) {
		d.Errorf(n, "notify", "%q: name a notify.yaml target (letters, digits, '.', '_' and '-'), or declare a target (- name: ..., type: ...)", n.Value)
	}
	return Destination{Name: n.Value, Source: fmt.Sprintf("%s:%d", d.File, n.Line), Items: items, reference: true}
}

// targetSpec is a target as written, before it is checked and built.
type targetSpec struct {
	name, typ, url, urlEnv, secretEnv string
	command                           []string
	node                              map[string]*yaml.Node
}

var targetKeys = []string{"command", "min_severity", "name", "rate_limit", "scope", "secret_env", "type", "url", "url_env"}

// The scopes of a notify.yaml target: the events of every item (the default), or only
// those of the heartbeat files that name it under notify:.
const (
	ScopeAll   = "all"
	ScopeNamed = "named"
)

// target checks and builds one destination.
func (d *decoder) target(n *yaml.Node) (Destination, bool) {
	before := len(d.Errs)
	dest := Destination{Source: fmt.Sprintf("%s:%d", d.File, n.Line)}
	spec := targetSpec{node: map[string]*yaml.Node{}}
	d.mapping(n, "target", func(key string, v *yaml.Node) {
		spec.node[key] = v
		switch key {
		case "name":
			spec.name, _ = d.scalar(v, key)
			if spec.name != "" && !namePattern.MatchString(spec.name) {
				d.Errorf(v, key, "%q: use letters, digits, '.', '_' and '-'", spec.name)
			}
		case "type":
			spec.typ, _ = d.scalar(v, key)
			switch tt, known := targetTypes[spec.typ]; {
			case !known:
				d.Errorf(v, key, "%q: use one of %s", spec.typ, typeNames())
			case tt.configOnly && d.shared:
				d.Errorf(v, key, "%s targets run programs, so they are allowed only in notify.yaml, not in a heartbeat file", spec.typ)
			}
		case "url":
			spec.url, _ = d.scalar(v, key)
		case "url_env":
			spec.urlEnv = d.envName(v, key)
		case "secret_env":
			spec.secretEnv = d.envName(v, key)
		case "command":
			spec.command = d.argv(v)
		case "min_severity":
			s, _ := d.scalar(v, key)
			sev, err := checks.ParseSeverity(s)
			if err != nil {
				d.Errorf(v, key, "%v", err)
			}
			dest.MinSeverity = sev
		case "rate_limit":
			dest.RateLimit = d.rateLimit(v)
		case "scope":
			dest.Items = d.scope(v)
		default:
			d.Errorf(v, key, "unknown key; valid keys: %s", strings.Join(targetKeys, ", "))
		}
	})
	if n.Kind != yaml.MappingNode {
		return dest, false
	}
	if spec.name == "" {
		d.Errorf(n, "name", "every target needs a name")
	}
	if spec.typ == "" {
		d.Errorf(n, "type", "every target needs a type: %s", typeNames())
	}
	dest.Name, dest.Type = spec.name, spec.typ
	d.build(n, spec, &dest)
	return dest, len(d.Errs) == before
}

// build checks the keys that belong to the target's type and makes its Target.
func (d *decoder) build(n *yaml.Node, spec targetSpec, dest *Destination) {
	tt, known := targetTypes[spec.typ]
	for _, k := range []string{"url", "url_env", "secret_env", "command"} {
		if v, set := spec.node[k]; set && known && !slices.Contains(tt.keys, k) {
			d.Errorf(v, k, "a %s target takes no %s", spec.typ, k)
		}
	}
	if known {
		tt.build(d, n, spec, dest)
	}
}

// buildWebhook makes a webhook target (signed when secret_env is given) or a
// Slack-compatible one.
func buildWebhook(d *decoder, n *yaml.Node, spec targetSpec, dest *Destination) {
	var secret string
	if spec.secretEnv != "" && spec.typ == "webhook" {
		if secret = d.env.getenv(spec.secretEnv); secret == "" {
			d.Errorf(spec.node["secret_env"], "secret_env", "$%s is empty or not set; set it in the daemon's environment", spec.secretEnv)
		}
	}
	target := d.url(n, spec)
	if target == "" {
		return
	}
	dest.Where = RedactURL(target)
	if spec.typ == "slack" {
		dest.Target = &Slack{URL: target, Client: d.env.Client}
		return
	}
	if secret != "" {
		dest.Where += " (signed)"
	}
	dest.Target = &Webhook{URL: target, Secret: []byte(secret), Client: d.env.Client}
}

// buildCommand makes a target that runs a program with the notification on stdin.
func buildCommand(d *decoder, n *yaml.Node, spec targetSpec, dest *Destination) {
	if spec.node["command"] == nil {
		d.Errorf(n, "command", "a command target needs command: [PROGRAM, ARG...]")
		return
	}
	dest.Where = strings.Join(spec.command, " ")
	dest.Target = &Command{Argv: spec.command}
}

// url returns the target's URL from url or from the variable url_env names.
func (d *decoder) url(n *yaml.Node, spec targetSpec) string {
	raw := spec.url
	switch {
	case spec.url != "" && spec.urlEnv != "":
		d.Errorf(spec.node["url_env"], "url_env", "give url or url_env, not both")
		return ""
	case spec.urlEnv != "":
		raw = d.env.getenv(spec.urlEnv)
		if raw == "" {
			d.Errorf(spec.node["url_env"], "url_env", "$%s is empty or not set; set it in the daemon's environment", spec.urlEnv)
			return ""
		}
	case spec.node["url"] == nil && spec.node["url_env"] == nil:
		d.Errorf(n, "url", "a %s target needs url or url_env (url_env keeps the token out of the file)", spec.typ)
		return ""
	case raw == "":
		return "" // reported where url or url_env is read
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		field, node := "url", spec.node["url"]
		if spec.urlEnv != "" {
			field, node = "url_env", spec.node["url_env"]
		}
		// The value may hold a token: say what is wrong, not what it is.
		d.Errorf(node, field, "not an http or https URL")
		return ""
	}
	return raw
}

// scope reads a notify.yaml target's scope: nil (every item) or an empty set that
// Merge fills with the items of the heartbeat files naming the target.
func (d *decoder) scope(v *yaml.Node) map[string]bool {
	s, _ := d.scalar(v, "scope")
	switch {
	case d.shared:
		d.Errorf(v, "scope", "only a notify.yaml target has a scope; a target declared here takes this file's events")
	case s == ScopeNamed:
		return map[string]bool{}
	case s != ScopeAll:
		d.Errorf(v, "scope", "%q: use %s (every item's events, the default) or %s (only those of the heartbeat files that name the target under notify:)", s, ScopeAll, ScopeNamed)
	}
	return nil
}

// envName reads the name of a variable (url_env, secret_env). A heartbeat file may
// only name variables starting with EnvPrefix: it may be shared, and the daemon would
// send what the variable holds, or an HMAC of the body made with it, wherever the
// file says.
func (d *decoder) envName(v *yaml.Node, field string) string {
	s, _ := d.scalar(v, field)
	switch {
	case s != "" && !envVarPattern.MatchString(s):
		d.Errorf(v, field, "%q is not an environment variable name (such as %sSLACK_URL)", s, EnvPrefix)
		return ""
	case s != "" && d.shared && !strings.HasPrefix(s, EnvPrefix):
		// Not "$NAME: ...": a name such as DB_PASSWORD followed by ": " reads as a
		// secret to the redaction of outputs.
		d.Errorf(v, field, "a heartbeat file, which may be shared, may only name variables starting with %s; rename $%s to %s%s, or define the target in notify.yaml and name it here (notify: [NAME])", EnvPrefix, s, EnvPrefix, s)
		return ""
	}
	return s
}

func (d *decoder) argv(v *yaml.Node) []string {
	if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		d.Errorf(v, "command", "want a list: [PROGRAM, ARG...]")
		return nil
	}
	var out []string
	for _, a := range v.Content {
		s, ok := d.scalar(a, "command")
		if ok {
			out = append(out, s)
		}
	}
	return out
}

var rateLimitPattern = regexp.MustCompile(`^\s*(\d+)\s*/\s*(\S+)\s*$`)

// rateLimit reads "N/DURATION" such as "10/1h".
func (d *decoder) rateLimit(v *yaml.Node) RateLimit {
	s, ok := d.scalar(v, "rate_limit")
	if !ok {
		return RateLimit{}
	}
	m := rateLimitPattern.FindStringSubmatch(s)
	if m != nil {
		n, err := strconv.Atoi(m[1])
		per, derr := checks.ParseDuration(m[2])
		if err == nil && derr == nil && n > 0 && per > 0 {
			return RateLimit{N: n, Per: per}
		}
	}
	d.Errorf(v, "rate_limit", "%q: write N/DURATION, such as 10/1h or 1/5m", s)
	return RateLimit{}
}
