package checks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ParamType is the type of a check or task parameter.
type ParamType int

// Parameter types. Values are written as text in heartbeat files and on the command
// line and validated against their type when a heartbeat is loaded.
const (
	String   ParamType = iota + 1
	Int                // a whole number
	Float              // a decimal number
	Bool               // true/false, yes/no, on/off, 1/0
	Duration           // Go durations plus d (days) and w (weeks): 30s, 5m, 14d, 1d12h
	URL                // an absolute http or https URL
	Addr               // host:port
	List               // comma-separated values
	Enum               // one of Choices
)

func (t ParamType) String() string {
	switch t {
	case String:
		return "string"
	case Int:
		return "integer"
	case Float:
		return "number"
	case Bool:
		return "boolean"
	case Duration:
		return "duration"
	case URL:
		return "url"
	case Addr:
		return "host:port"
	case List:
		return "list"
	case Enum:
		return "enum"
	}
	return "unknown"
}

// ParamSpec describes one parameter of a check or task.
type ParamSpec struct {
	Name     string
	Type     ParamType
	Doc      string
	Default  string
	Required bool
	// Choices are the valid values of an Enum, or of each element of a List when set.
	Choices []string
	// FrontMatter is the heartbeat front-matter key that sets a file-wide default for
	// this parameter, such as "kube_context" for "context".
	FrontMatter string
	// Tuning marks parameters that change how, not what, is checked (timeout): they
	// are left out of an item's identity, so changing them keeps its history.
	Tuning bool
	// Agent says how an agent (an MCP client, a model) may set the parameter: any
	// value (the zero value), never (it reveals content), or only values the
	// operator's configuration allows. AgentPolicy.Admit decides.
	Agent AgentRule
	// Validate adds checks beyond the type; its error says what is wrong and what to
	// write instead.
	Validate func(value string) error
}

// DefaultTimeout is how long a run may take when the item sets no timeout.
const DefaultTimeout = 60 * time.Second

// commonParams are accepted by every check and task.
func commonParams() []ParamSpec {
	return []ParamSpec{{
		Name:        "timeout",
		Type:        Duration,
		Doc:         "how long one run may take before it is abandoned",
		Default:     DefaultTimeout.String(),
		FrontMatter: "timeout",
		Tuning:      true,
	}}
}

// ParamError is a problem with one parameter value.
type ParamError struct {
	Param string
	Msg   string
}

func (e *ParamError) Error() string {
	if e.Param == "" {
		return e.Msg
	}
	return "parameter " + e.Param + ": " + e.Msg
}

// Params are the bound, validated parameter values of one check or task item,
// defaults included.
type Params struct {
	values map[string]string
	// identity holds the names of parameters set explicitly or by front matter that
	// are not Tuning: they say what is checked.
	identity map[string]bool
}

// Binder validates and binds parameter values for one spec; build it once with
// Spec.Binder when binding many items of the same check.
type Binder struct {
	id     string
	specs  []ParamSpec
	byName map[string]ParamSpec
}

// Binder compiles the spec's parameters, common ones included.
func (s Spec) Binder() *Binder {
	specs := s.allParams()
	byName := make(map[string]ParamSpec, len(specs))
	for _, ps := range specs {
		byName[ps.Name] = ps
	}
	return &Binder{id: s.ID, specs: specs, byName: byName}
}

// Bind validates raw parameter values against the spec, fills in file-wide defaults
// (keyed by front-matter key) and declared defaults, and returns the bound Params.
// Every problem found is returned, joined, as *ParamError values.
func (s Spec) Bind(raw map[string]string, fileDefaults map[string]string) (Params, error) {
	return s.Binder().Bind(raw, fileDefaults)
}

// Bind is Spec.Bind with the spec compiled once.
func (b *Binder) Bind(raw map[string]string, fileDefaults map[string]string) (Params, error) {
	p := Params{values: make(map[string]string, len(b.specs)), identity: make(map[string]bool, len(raw))}
	var errs []error
	var bad map[string]bool
	for _, name := range sortedKeys(raw) {
		ps, ok := b.byName[name]
		if !ok {
			errs = append(errs, &ParamError{Param: name, Msg: fmt.Sprintf("%s has no parameter %q; valid parameters: %s", b.id, name, paramNames(b.specs))})
			continue
		}
		v, err := ps.normalize(raw[name])
		if err != nil {
			errs = append(errs, &ParamError{Param: name, Msg: err.Error()})
			if bad == nil {
				bad = map[string]bool{}
			}
			bad[name] = true
			continue
		}
		p.set(ps, v, true)
	}
	for _, ps := range b.specs {
		if _, ok := p.values[ps.Name]; ok || bad[ps.Name] {
			continue
		}
		if fv, ok := fileDefaults[ps.FrontMatter]; ok && ps.FrontMatter != "" {
			v, err := ps.normalize(fv)
			if err != nil {
				errs = append(errs, &ParamError{Param: ps.Name, Msg: fmt.Sprintf("front matter %s: %v", ps.FrontMatter, err)})
				continue
			}
			p.set(ps, v, true)
			continue
		}
		if ps.Default != "" {
			p.set(ps, ps.Default, false)
			continue
		}
		if ps.Required {
			errs = append(errs, &ParamError{Param: ps.Name, Msg: fmt.Sprintf("%s needs %s=<%s> (%s)", b.id, ps.Name, ps.Type, ps.Doc)})
		}
	}
	return p, errors.Join(errs...)
}

func (p *Params) set(ps ParamSpec, v string, identity bool) {
	p.values[ps.Name] = v
	if identity && !ps.Tuning {
		p.identity[ps.Name] = true
	}
}

// normalize validates a value against the parameter's type and returns it in
// canonical form (trimmed; durations and booleans as written).
func (ps ParamSpec) normalize(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("empty value; write %s=<%s>", ps.Name, ps.Type)
	}
	if err := ps.Type.validate(v, ps.Choices); err != nil {
		return "", err
	}
	if ps.Validate != nil {
		if err := ps.Validate(v); err != nil {
			return "", err
		}
	}
	return v, nil
}

func (t ParamType) validate(v string, choices []string) error {
	switch t {
	case Int:
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
	case Float:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
	case Bool:
		if _, err := parseBool(v); err != nil {
			return err
		}
	case Duration:
		if _, err := ParseDuration(v); err != nil {
			return err
		}
	case URL:
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q is not an absolute http:// or https:// URL", v)
		}
	case Addr:
		host, port, err := net.SplitHostPort(v)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("%q is not host:port (example: db.internal:5432)", v)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q has no valid port (1-65535)", v)
		}
	case Enum:
		if !slices.Contains(choices, v) {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(choices, ", "))
		}
	case List:
		if len(choices) == 0 {
			return nil
		}
		for _, e := range splitList(v) {
			if !slices.Contains(choices, e) {
				return fmt.Errorf("%q is not one of %s", e, strings.Join(choices, ", "))
			}
		}
	}
	return nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", v)
}

func splitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

var durationToken = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h|d|w)`)

// ParseDuration reads a Go duration extended with d (24h) and w (7d): "30s", "14d",
// "1d12h". Negative durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration (examples: 30s, 5m, 2h, 14d)", s)
	rest := strings.TrimSpace(s)
	if rest == "" {
		return 0, bad
	}
	var total time.Duration
	for rest != "" {
		m := durationToken.FindStringSubmatch(rest)
		if m == nil {
			return 0, bad
		}
		rest = rest[len(m[0]):]
		n, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return 0, bad
		}
		switch m[2] {
		case "d":
			total += time.Duration(n * float64(24*time.Hour))
		case "w":
			total += time.Duration(n * float64(7*24*time.Hour))
		default:
			d, err := time.ParseDuration(m[0])
			if err != nil {
				return 0, bad
			}
			total += d
		}
	}
	return total, nil
}

// NewParams returns Params holding exactly the given values, all part of the identity.
// Tests and callers that bypass a Spec use it; heartbeat items use Spec.Bind.
func NewParams(values map[string]string) Params {
	p := Params{values: map[string]string{}, identity: map[string]bool{}}
	for k, v := range values {
		p.values[k] = v
		p.identity[k] = true
	}
	return p
}

// Get returns the value of the named parameter, or "" when it has none.
func (p Params) Get(name string) string { return p.values[name] }

// Has reports whether the parameter has a value (set, from front matter, or default).
func (p Params) Has(name string) bool {
	_, ok := p.values[name]
	return ok
}

// Int returns an Int parameter; 0 when unset. Bind has validated the value.
func (p Params) Int(name string) int {
	n, _ := strconv.Atoi(p.values[name])
	return n
}

// Float returns a Float parameter; 0 when unset.
func (p Params) Float(name string) float64 {
	f, _ := strconv.ParseFloat(p.values[name], 64)
	return f
}

// Bool returns a Bool parameter; false when unset.
func (p Params) Bool(name string) bool {
	b, _ := parseBool(p.values[name])
	return b
}

// Duration returns a Duration parameter; 0 when unset.
func (p Params) Duration(name string) time.Duration {
	d, _ := ParseDuration(p.values[name])
	return d
}

// List returns the elements of a List parameter; nil when unset.
func (p Params) List(name string) []string { return splitList(p.values[name]) }

// Values returns a copy of every value, defaults included.
func (p Params) Values() map[string]string {
	out := make(map[string]string, len(p.values))
	for k, v := range p.values {
		out[k] = v
	}
	return out
}

// Identity is the canonical text of the parameters that say what is checked: the
// ones written in the item or set by front matter, without Tuning ones, sorted by
// name, as name=value separated by spaces (values quoted when they need it).
func (p Params) Identity() string {
	names := make([]string, 0, len(p.identity))
	for n := range p.identity {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + QuoteValue(p.values[n])
	}
	return strings.Join(parts, " ")
}

// QuoteValue quotes a parameter value when it holds spaces, quotes or is empty, so
// that name=value pairs can be read back.
func QuoteValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"\\") {
		return strconv.Quote(v)
	}
	return v
}

type paramsJSON struct {
	Values   map[string]string `json:"values"`
	Identity []string          `json:"identity,omitempty"`
}

// MarshalJSON encodes the values and which of them form the identity.
func (p Params) MarshalJSON() ([]byte, error) {
	id := make([]string, 0, len(p.identity))
	for n := range p.identity {
		id = append(id, n)
	}
	sort.Strings(id)
	return json.Marshal(paramsJSON{Values: p.values, Identity: id})
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (p *Params) UnmarshalJSON(b []byte) error {
	var pj paramsJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return err
	}
	p.values = pj.Values
	if p.values == nil {
		p.values = map[string]string{}
	}
	p.identity = map[string]bool{}
	for _, n := range pj.Identity {
		p.identity[n] = true
	}
	return nil
}

func paramNames(specs []ParamSpec) string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ParseSince reads a point in the past as people and agents write it: a duration
// before now (30m, 24h, 7d), an RFC 3339 time, or a date (midnight UTC).
func ParseSince(s string, now time.Time) (time.Time, error) {
	if d, err := ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a duration such as 24h or 7d, a date such as 2026-12-01, or a time such as 2026-12-01T09:00:00Z", s)
}
