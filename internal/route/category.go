package route

import (
	"maps"
	"slices"
	"strings"

	"github.com/clankerd/clankerd/checks"
)

// categoryPhrases are the words that ask about a whole category of checks, whatever
// the provider: "any new public endpoints?" runs every exposure check of every
// provider that is configured (checks.Spec.Categories).
var categoryPhrases = map[string][]string{
	checks.CategoryExposure: {"public endpoint", "exposed", "exposed to the internet", "exposure", "exposing", "attack surface", "open to the internet", "reachable from the internet", "publicly reachable"},
	checks.CategoryAccess:   {"permission", "who has access", "who can access", "access right", "access control"},
	checks.CategoryWaste:    {"wasting money", "waste", "wasted", "save money", "saving", "unused resource", "idle resource"},
	checks.CategoryHealth:   {"anything unusual", "unusual", "everything ok", "everything okay", "everything fine", "everything healthy", "all good", "anything wrong", "going wrong", "overall health"},
	checks.CategoryCost:     {"how much are we spending", "how much do we spend", "cost overview", "where is the money going"},
	// categoryChanges asks what changed in exposure and access: the change-tracking
	// checks (checks.Spec.Tracks) of both categories.
	categoryChanges: {"what changed", "what has changed", "what have changed", "any changes", "anything changed", "what is new", "drift", "changed since", "changes since"},
}

// categoryChanges is the category of a question about what changed: it stands for
// the exposure and access categories, answered by their change-tracking checks.
const categoryChanges = "changes"

// changeWords (stemmed) make a question one about what changed ("any new public
// endpoints?", "permission changes since yesterday?"): it is answered by the
// change-tracking checks (checks.Spec.Tracks) where the routes include some, and
// other questions by the rest.
var changeWords = []string{"new", "change", "changed", "since", "drift", "added", "gained", "delta", "appeared", "opened"}

// changeIntent reports whether the stemmed question asks what changed.
func changeIntent(toks []string) bool {
	return slices.ContainsFunc(toks, func(t string) bool { return slices.Contains(changeWords, t) })
}

// preferIntent keeps the routes that answer the question's intent, change tracking
// or the state as it is, when there are routes of both kinds; otherwise all of them.
func (r *Router) preferIntent(routes []scoredRoute, changes bool) []scoredRoute {
	var keep []scoredRoute
	for _, s := range routes {
		if r.tracks[s.id] == changes {
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 {
		return routes
	}
	return keep
}

// genericWords say little about what to check: a keyword made only of them ("status",
// "endpoint", "healthy") routes a question only when no other word does, so "pod
// status" is a question about pods, not an HTTP status.
var genericWords = []string{"status", "check", "endpoint", "healthy", "health", "state", "working", "problem", "issue", "new", "detected", "up", "down"}

// generic reports whether every word of a stemmed keyword is generic.
func generic(kw []string) bool {
	for _, w := range kw {
		if !slices.Contains(genericWords, w) {
			return false
		}
	}
	return true
}

// categoryMatch is what the category phrases of a question matched.
type categoryMatch struct {
	categories []string
	spans      []span
	// changes is set when a phrase asked what changed ("what changed?").
	changes bool
}

// categoryPhrase is a category phrase as the router matches it.
type categoryPhrase struct {
	category string
	words    []string // stemmed
}

// stemCategoryPhrases stems the category phrases once, in category order.
func stemCategoryPhrases() []categoryPhrase {
	var out []categoryPhrase
	for _, cat := range slices.Sorted(maps.Keys(categoryPhrases)) {
		for _, phrase := range categoryPhrases[cat] {
			out = append(out, categoryPhrase{cat, stems(checks.NewQuestion(phrase).Words)})
		}
	}
	return out
}

// matchCategories finds the category phrases of a question.
func (r *Router) matchCategories(toks []string) categoryMatch {
	var m categoryMatch
	for _, p := range r.categoryPhrases {
		for i := 0; i+len(p.words) <= len(toks); i++ {
			if slices.Equal(toks[i:i+len(p.words)], p.words) {
				m.spans = append(m.spans, span{i, i + len(p.words)})
				cats := []string{p.category}
				if p.category == categoryChanges {
					cats = []string{checks.CategoryExposure, checks.CategoryAccess}
					m.changes = true
				}
				for _, c := range cats {
					if !slices.Contains(m.categories, c) {
						m.categories = append(m.categories, c)
					}
				}
			}
		}
	}
	return m
}

// covers reports whether toks[start:end] lies inside one of the category phrases.
func (m categoryMatch) covers(start, end int) bool {
	for _, s := range m.spans {
		if s.start <= start && end <= s.end {
			return true
		}
	}
	return false
}

// Owner is what a provider may say besides its names: which checks are its own. A
// category question runs an owned check only when its provider names something that
// exists (a kubeconfig context, an AWS profile), so a provider with nothing
// configured is left out; checks no provider owns (the probes) always count.
type Owner interface {
	Owns(check string) bool
}

// configured reports whether the provider of check, if any says it owns it, has
// anything configured.
func (r *Router) configured(check string, names []map[string][]string) bool {
	for i, p := range r.providers {
		if o, ok := p.(Owner); ok && o.Owns(check) {
			for _, values := range names[i] {
				if len(values) > 0 {
					return true
				}
			}
			return false
		}
	}
	return true
}

// categoryRoutes are the checks that answer a category question: every check of the
// categories asked about whose provider is configured and whose required parameters
// the question gives. Other words narrow them ("any aws resources exposed?", "orphaned
// disks wasting money"): when some of the checks match a word outside the category
// phrases, only those that match best are kept.
func (r *Router) categoryRoutes(toks []string, cm categoryMatch, spans []span, names []map[string][]string) []scoredRoute {
	var out []scoredRoute
	for _, s := range r.specs {
		if r.kinds[s.ID] != checks.KindCheck || !slices.ContainsFunc(s.Categories, func(c string) bool { return slices.Contains(cm.categories, c) }) {
			continue
		}
		if !r.configured(s.ID, names) {
			continue
		}
		sc := scoredRoute{id: s.ID, matched: []string{"category " + strings.Join(s.Categories, ", ")}}
		for _, kw := range r.keywords[s.ID] {
			if generic(kw) || (len(kw) == 1 && checks.Stopword(kw[0])) {
				continue
			}
			for i := 0; i+len(kw) <= len(toks); i++ {
				if slices.Equal(toks[i:i+len(kw)], kw) && !cm.covers(i, i+len(kw)) && matchedOutside(toks, kw, spans) {
					key := strings.Join(kw, " ")
					sc.score += r.weight[key]
					sc.matched = append(sc.matched, key)
					break
				}
			}
		}
		out = append(out, sc)
	}
	best := 0.0
	for _, s := range out {
		best = max(best, s.score)
	}
	if best == 0 {
		for i := range out {
			out[i].score = 1
		}
		return out
	}
	var keep []scoredRoute
	for _, s := range out {
		if s.score >= best*closeness {
			keep = append(keep, s)
		}
	}
	return keep
}
