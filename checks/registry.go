package checks

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Registry maps ids to the checks and tasks this build knows. It is filled at start-up
// (each provider's Register function adds its own) and only read afterwards; it is not
// safe for concurrent writes.
type Registry struct {
	checks map[string]Check
	tasks  map[string]Task
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{checks: map[string]Check{}, tasks: map[string]Task{}}
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// AddCheck registers a check under its Spec().ID.
func (r *Registry) AddCheck(c Check) error {
	id := c.Spec().ID
	if err := r.free(id); err != nil {
		return err
	}
	r.checks[id] = c
	return nil
}

// AddTask registers a write task under its Spec().ID.
func (r *Registry) AddTask(t Task) error {
	id := t.Spec().ID
	if err := r.free(id); err != nil {
		return err
	}
	r.tasks[id] = t
	return nil
}

// AddAll registers a provider's checks and tasks, and reports every id that could
// not be added.
func (r *Registry) AddAll(cs []Check, ts []Task) error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, r.AddCheck(c))
	}
	for _, t := range ts {
		errs = append(errs, r.AddTask(t))
	}
	return errors.Join(errs...)
}

func (r *Registry) free(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("registering %q: ids are lower-case and namespaced, like http.status", id)
	}
	if _, ok := r.checks[id]; ok {
		return fmt.Errorf("registering %q: a check with that id is already registered", id)
	}
	if _, ok := r.tasks[id]; ok {
		return fmt.Errorf("registering %q: a task with that id is already registered", id)
	}
	return nil
}

// Check returns the check with the id.
func (r *Registry) Check(id string) (Check, bool) {
	c, ok := r.checks[id]
	return c, ok
}

// Task returns the write task with the id.
func (r *Registry) Task(id string) (Task, bool) {
	t, ok := r.tasks[id]
	return t, ok
}

// Lookup returns the spec and kind of the check or task with the id.
func (r *Registry) Lookup(id string) (Spec, Kind, bool) {
	if c, ok := r.checks[id]; ok {
		return c.Spec(), KindCheck, true
	}
	if t, ok := r.tasks[id]; ok {
		return t.Spec(), KindTask, true
	}
	return Spec{}, 0, false
}

// Specs returns the specs of every check and task, sorted by id.
func (r *Registry) Specs() []Spec {
	out := make([]Spec, 0, len(r.checks)+len(r.tasks))
	for _, c := range r.checks {
		out = append(out, c.Spec())
	}
	for _, t := range r.tasks {
		out = append(out, t.Spec())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// FrontMatterKeys returns every front-matter key some parameter takes its file-wide
// default from, sorted.
func (r *Registry) FrontMatterKeys() []string {
	return r.paramSet(func(p ParamSpec) string { return p.FrontMatter })
}

// paramSet returns the distinct non-empty values of key over every parameter of the
// registry's checks and tasks (common ones included), sorted.
func (r *Registry) paramSet(key func(ParamSpec) string) []string {
	seen := map[string]bool{}
	for _, p := range commonParams() {
		seen[key(p)] = true
	}
	for _, s := range r.Specs() {
		for _, p := range s.Params {
			seen[key(p)] = true
		}
	}
	delete(seen, "")
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Suggest returns up to three registered ids closest to id, for "did you mean"
// messages: the ones sharing its namespace first, then by edit distance.
func (r *Registry) Suggest(id string) []string {
	type scored struct {
		id    string
		score int
	}
	ns, _, _ := strings.Cut(id, ".")
	var all []scored
	for _, s := range r.Specs() {
		d := editDistance(id, s.ID)
		sameNS := false
		if other, _, _ := strings.Cut(s.ID, "."); other == ns {
			sameNS = true
		}
		if !sameNS && d > max(2, len(id)/3) {
			continue
		}
		if sameNS {
			d -= len(ns)
		}
		all = append(all, scored{s.ID, d})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].score < all[j].score })
	var out []string
	for i := 0; i < len(all) && i < 3; i++ {
		out = append(out, all[i].id)
	}
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
