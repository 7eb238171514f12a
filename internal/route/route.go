// Package route maps a plain-language question ("are all production pods healthy?") to
// the checks and tasks that answer it, deterministically: each check declares its own
// routing words next to its definition (checks.Spec.Keywords), so a new check routes
// without touching the router. Parameters come from the question too: each provider
// takes its own (the names that exist, ids, its targets; checks.Extractor), the router
// the ones any check may take (thresholds, durations, amounts, URLs, addresses).
package route

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/clankerd/clankerd/checks"
)

// Catalog is what the router routes to: the registry.
type Catalog interface {
	Specs() []checks.Spec
	Lookup(id string) (checks.Spec, checks.Kind, bool)
}

// Provider is what the router asks of a provider: the names that exist, read once per
// question, and the parameters it takes from a question for its checks and tasks.
type Provider interface {
	checks.Vocabulary
	checks.Extractor
}

// Route is one check or task a question maps to, with the parameters taken from the
// question and why it was chosen.
type Route struct {
	Check  string            `json:"check"`
	Kind   string            `json:"kind"`
	Params map[string]string `json:"params"`
	Why    string            `json:"why"`
	Score  float64           `json:"score"`
}

// Result is the router's answer.
type Result struct {
	Routes []Route `json:"routes"`
	// Confident is false when no check matched well enough; Closest then lists the
	// best candidates.
	Confident bool     `json:"confident"`
	Closest   []string `json:"closest,omitempty"`
	// Write is true when the question asks for a change (its best route is a task).
	Write bool `json:"write"`
	// Missing lists required parameters the question did not give, as "CHECK: NAME".
	Missing []string `json:"missing,omitempty"`
	// Ambiguous, when the question names something that fits several values, says
	// which, as "CHECK: WHAT could be A, B"; the result is then not confident.
	Ambiguous []string `json:"ambiguous,omitempty"`
}

// Router routes questions. Build it once; it indexes the catalog's keywords.
type Router struct {
	catalog   Catalog
	providers []Provider
	specs     []checks.Spec
	kinds     map[string]checks.Kind
	tracks    map[string]bool // change-tracking checks (checks.Spec.Tracks)
	// verbs start a change request: changeVerbs and the tasks' own.
	verbs map[string]bool
	// keywords per spec, stemmed; weight per stemmed keyword (rarer is heavier).
	keywords map[string][][]string
	weight   map[string]float64
	// vocabulary is every stemmed word of a keyword, for spelling.
	vocabulary map[string]bool
	// categoryPhrases are categoryPhrases, stemmed.
	categoryPhrases []categoryPhrase
}

// MaxRoutes bounds how many checks one question runs.
const MaxRoutes = 12

// New indexes the catalog. Every provider's extractor is asked for the parameters of
// every route, in the order given; none may be nil.
func New(c Catalog, providers ...Provider) *Router {
	r := &Router{catalog: c, providers: providers, kinds: map[string]checks.Kind{}, tracks: map[string]bool{}, verbs: map[string]bool{}, keywords: map[string][][]string{}, weight: map[string]float64{}, vocabulary: map[string]bool{}, categoryPhrases: stemCategoryPhrases()}
	for _, v := range changeVerbs {
		r.verbs[v] = true
	}
	count := map[string]int{}
	for _, s := range c.Specs() {
		_, kind, _ := c.Lookup(s.ID)
		r.specs = append(r.specs, s)
		r.kinds[s.ID] = kind
		r.tracks[s.ID] = s.Tracks
		if kind == checks.KindTask {
			for _, v := range s.Verbs {
				r.verbs[v] = true
			}
		}
		seen := map[string]bool{}
		// A task's verbs are its words too: "resize payments/queue to 2".
		for _, k := range slices.Concat(s.Keywords, idWords(s.ID), s.Verbs) {
			words := stems(checks.NewQuestion(k).Words)
			key := strings.Join(words, " ")
			if len(words) == 0 || seen[key] {
				continue
			}
			seen[key] = true
			r.keywords[s.ID] = append(r.keywords[s.ID], words)
			count[key]++
			for _, w := range words {
				r.vocabulary[w] = true
			}
		}
	}
	for k, n := range count {
		r.weight[k] = (1 + 0.5*float64(strings.Count(k, " "))) / math.Sqrt(float64(n))
	}
	return r
}

// idWords are the words of a check id that say what it checks: "k8s.pods.unhealthy"
// gives "unhealthy"; provider prefixes are covered by keywords.
func idWords(id string) []string {
	parts := strings.Split(id, ".")
	if len(parts) < 2 {
		return nil
	}
	return parts[len(parts)-1:]
}

// stem folds plurals and -ing forms: pods → pod, policies → policy, restarting →
// restart; addresses stays. Keywords and questions go through the same stem, so the
// folding only has to be consistent, not correct English.
func stem(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		w = w[:len(w)-3] + "y"
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us"):
		w = w[:len(w)-1]
	}
	if len(w) > 6 && strings.HasSuffix(w, "ing") {
		w = w[:len(w)-3]
	}
	return w
}

// changeVerbs start a change request whatever the task, besides the verbs the tasks
// declare (checks.Spec.Verbs).
var changeVerbs = []string{"set", "change", "make", "turn"}

// stems stems every word.
func stems(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = stem(w)
	}
	return out
}

// scoredRoute is a candidate with its score and the keywords it matched.
type scoredRoute struct {
	id      string
	score   float64
	matched []string
	// specific is true when a keyword that is not only generic words matched.
	specific bool
}

// span is where a keyword matched: toks[start:end].
type span struct{ start, end int }

// matchSpans lists where every keyword of the catalog matches.
func (r *Router) matchSpans(toks []string) []span {
	var out []span
	for _, kws := range r.keywords {
		for _, kw := range kws {
			for i := 0; i+len(kw) <= len(toks); i++ {
				if slices.Equal(toks[i:i+len(kw)], kw) {
					out = append(out, span{i, i + len(kw)})
				}
			}
		}
	}
	return out
}

// matchedOutside reports whether phrase occurs in toks somewhere that no longer
// keyword's match covers.
func matchedOutside(toks, phrase []string, spans []span) bool {
	for i := 0; i+len(phrase) <= len(toks); i++ {
		if !slices.Equal(toks[i:i+len(phrase)], phrase) {
			continue
		}
		inside := false
		for _, s := range spans {
			if s.end-s.start > len(phrase) && s.start <= i && i+len(phrase) <= s.end {
				inside = true
				break
			}
		}
		if !inside {
			return true
		}
	}
	return false
}

// Route maps a question to checks (and tasks, for a change request).
func (r *Router) Route(ctx context.Context, question string) Result {
	q := checks.NewQuestion(question)
	toks := r.spell(stems(q.Words))
	for _, t := range q.Words {
		switch {
		case isURL(t):
			toks = append(toks, "url")
		case hostPort.MatchString(t):
			toks = append(toks, "port")
		}
	}
	var content []string
	for _, t := range toks {
		if !checks.Stopword(t) {
			content = append(content, t)
		}
	}
	imperative := r.imperative(toks)
	whatIf := !imperative && r.whatIf(q, toks)
	imperative = imperative || whatIf
	// A keyword inside a longer keyword that matched at the same place ("access keys"
	// inside "root access keys") does not count: the longer one says more.
	spans := r.matchSpans(toks)
	all := r.score(toks, spans, imperative)
	var cm categoryMatch
	if !imperative {
		cm = r.matchCategories(toks)
	}
	var res Result
	for i, s := range all {
		if i < 3 {
			res.Closest = append(res.Closest, s.id)
		}
	}
	if len(cm.categories) == 0 && !whatIf && (len(all) == 0 || all[0].score < minScore || len(content) == 0) {
		if len(res.Closest) == 0 {
			res.Closest = r.suggest(content)
		}
		return res
	}
	// The names that exist, read once per question (a provider may ask its API).
	names := make([]map[string][]string, len(r.providers))
	for i, p := range r.providers {
		names[i] = p.Names(ctx)
	}
	// A change request routes to the best task only; a category question to the
	// checks of its categories; a question to every check that scores close to the
	// best.
	switch {
	case whatIf && (len(all) == 0 || all[0].score < minScore):
		all = r.fillingTask(q, names)
		if len(all) == 0 {
			return res
		}
		res.Write = true
	case len(cm.categories) > 0:
		all = r.complete(q, names, r.preferIntent(r.categoryRoutes(toks, cm, spans, names), cm.changes || changeIntent(toks)))
		if len(all) == 0 {
			return res
		}
	case r.kinds[all[0].id] == checks.KindTask:
		res.Write = true
		all = r.bestTask(q, names, all[0].score, all)
	default:
		var keep []scoredRoute
		for _, s := range all {
			if r.kinds[s.id] == checks.KindCheck && s.score >= all[0].score*closeness && len(keep) < MaxRoutes {
				keep = append(keep, s)
			}
		}
		all = r.preferIntent(keep, changeIntent(toks))
	}
	var routes []Route
	var ambiguous []string
	for _, s := range all {
		spec, _, _ := r.catalog.Lookup(s.id)
		params, why, amb := r.extract(q, spec, names)
		rt := Route{Check: s.id, Kind: r.kinds[s.id].String(), Params: params, Score: math.Round(s.score*100) / 100,
			Why: "matched " + quoteAll(s.matched)}
		if len(why) > 0 {
			rt.Why += "; " + strings.Join(why, "; ")
		}
		for _, name := range missingParams(spec, params) {
			res.Missing = append(res.Missing, s.id+": "+name)
		}
		ambiguous = append(ambiguous, amb...)
		routes = append(routes, rt)
	}
	if len(ambiguous) > 0 {
		return Result{Closest: []string{all[0].id}, Ambiguous: ambiguous, Write: res.Write}
	}
	res.Routes, res.Confident = routes, true
	return res
}

// score scores every check (or, for a change request, every task) by the keywords of
// the question it matched, best first. A keyword made only of generic words counts for
// a check that matched another word too, or when no check matched another word: it
// never outranks a word that says what to check.
func (r *Router) score(toks []string, spans []span, imperative bool) []scoredRoute {
	var all []scoredRoute
	specific := false
	for _, s := range r.specs {
		// A question routes to checks; only a request phrased as one (it starts with
		// a verb such as "scale" or "restart") routes to a task.
		if (r.kinds[s.ID] == checks.KindTask) != imperative {
			continue
		}
		sc := scoredRoute{id: s.ID}
		for _, kw := range r.keywords[s.ID] {
			if len(kw) == 1 && checks.Stopword(kw[0]) {
				continue
			}
			if matchedOutside(toks, kw, spans) {
				key := strings.Join(kw, " ")
				sc.score += r.weight[key]
				sc.matched = append(sc.matched, key)
				sc.specific = sc.specific || !generic(kw)
			}
		}
		if sc.score > 0 {
			all = append(all, sc)
			specific = specific || sc.specific
		}
	}
	if specific {
		all = slices.DeleteFunc(all, func(s scoredRoute) bool { return !s.specific })
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].score != all[j].score {
			return all[i].score > all[j].score
		}
		return all[i].id < all[j].id
	})
	return all
}

// complete keeps the routes whose required parameters the question gives.
func (r *Router) complete(q checks.Question, names []map[string][]string, routes []scoredRoute) []scoredRoute {
	return slices.DeleteFunc(routes, func(s scoredRoute) bool {
		spec, _, _ := r.catalog.Lookup(s.id)
		params, _, _ := r.extract(q, spec, names)
		return len(missingParams(spec, params)) > 0
	})
}

// bestTask picks, among the tasks that score close to the best, the one whose
// required parameters the question gives most completely ("scale shop/api to 3" is a
// Deployment, not an Auto Scaling group). A parameter the question names ambiguously
// counts as given: "scale queue to 3" names a Deployment in two namespaces, which is
// asked back.
func (r *Router) bestTask(q checks.Question, names []map[string][]string, top float64, all []scoredRoute) []scoredRoute {
	best, bestMissing := -1, 0
	for i, s := range all {
		if s.score < top*closeness {
			break
		}
		spec, _, _ := r.catalog.Lookup(s.id)
		params, _, ambiguous := r.extract(q, spec, names)
		missing := len(missingParams(spec, params)) - len(ambiguous)
		if best < 0 || missing < bestMissing {
			best, bestMissing = i, missing
		}
	}
	return all[best : best+1]
}

// missingParams names the required parameters of spec that params lacks.
func missingParams(spec checks.Spec, params map[string]string) []string {
	var out []string
	for _, p := range spec.Params {
		if p.Required && params[p.Name] == "" {
			out = append(out, p.Name)
		}
	}
	return out
}

// imperative reports whether the question asks for a change: it starts with a change
// verb (scale, restart, revoke, set, ...), maybe after words that lead a request
// ("please", "can you", "generate a plan to").
func (r *Router) imperative(toks []string) bool {
	for i, t := range toks {
		if r.verbs[t] {
			return !r.checkPhraseAt(toks, i)
		}
		if !slices.Contains(requestLeads, t) {
			return false
		}
	}
	return false
}

// checkPhraseAt reports whether a check's keyword of several words starts at
// toks[i]: in "restart counts above 3" the verb is a noun.
func (r *Router) checkPhraseAt(toks []string, i int) bool {
	for _, s := range r.specs {
		if r.kinds[s.ID] != checks.KindCheck {
			continue
		}
		for _, kw := range r.keywords[s.ID] {
			if len(kw) > 1 && i+len(kw) <= len(toks) && slices.Equal(toks[i:i+len(kw)], kw) {
				return true
			}
		}
	}
	return false
}

// whatIf reports whether the question asks what a change would do without starting
// with its verb: it starts with "estimate", "preview", "simulate", "what if" or "what
// would", and names a relative number ("2 additional pods", "+2") or a change verb.
func (r *Router) whatIf(q checks.Question, toks []string) bool {
	lead := false
	for _, l := range whatIfLeads {
		words := strings.Fields(l)
		if len(toks) >= len(words) && slices.Equal(toks[:len(words)], words) {
			lead = true
		}
	}
	if !lead {
		return false
	}
	return relativeCount.MatchString(q.Lower) || slices.ContainsFunc(toks[1:], func(t string) bool { return r.verbs[t] })
}

// What asks what a change would do: its leading words, and a relative number.
var (
	whatIfLeads   = []string{"estimate", "preview", "simulate", "what if", "what would", "how much would"}
	relativeCount = regexp.MustCompile(`\b\d+\s+(?:more|additional|extra|fewer)\b|(?:^|\s)[+-]\d+\b`)
)

// fillingTask is, for a what-if question no task's words match, the task whose
// required parameters the question gives, most of them first: "estimate the cost of 2
// additional checkout-api pods" names a Deployment that exists and a number of
// replicas, which is a scale.
func (r *Router) fillingTask(q checks.Question, names []map[string][]string) []scoredRoute {
	best, bestFilled := "", 0
	for _, s := range r.specs {
		if r.kinds[s.ID] != checks.KindTask {
			continue
		}
		params, _, _ := r.extract(q, s, names)
		filled := 0
		for _, p := range s.Params {
			if p.Required && params[p.Name] != "" {
				filled++
			}
		}
		if len(missingParams(s, params)) == 0 && filled > bestFilled {
			best, bestFilled = s.ID, filled
		}
	}
	if best == "" {
		return nil
	}
	return []scoredRoute{{id: best, score: minScore, matched: []string{"the parameters it needs"}}}
}

// requestLeads are the words that may come before the verb of a change request.
var requestLeads = []string{"please", "can", "could", "would", "will", "you", "i", "we", "d", "want", "need", "like", "to", "let", "s",
	"go", "ahead", "and", "generate", "create", "draft", "prepare", "propose", "write", "give", "me", "us", "a", "an", "the", "plan", "for", "just", "now"}

// minScore is the least score a confident route needs; closeness is how close to the
// best a check must score to be routed too.
const (
	minScore  = 0.4
	closeness = 0.6
)

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// suggest lists checks whose ids share a word with the question.
func (r *Router) suggest(content []string) []string {
	var out []string
	for _, s := range r.specs {
		for _, part := range strings.Split(s.ID, ".") {
			if slices.Contains(content, stem(part)) && !slices.Contains(out, s.ID) {
				out = append(out, s.ID)
			}
		}
	}
	if len(out) > 5 {
		out = out[:5]
	}
	return out
}

// Error says why a question could not be routed and what to try.
func (res Result) Error(question string) error {
	if len(res.Ambiguous) > 0 {
		return fmt.Errorf("%q is ambiguous: %s; name it as NAMESPACE/NAME or say which namespace (\"… in NAMESPACE\")", question, strings.Join(res.Ambiguous, "; "))
	}
	if len(res.Closest) == 0 {
		return fmt.Errorf("no check matches %q: list them with `clankerd lint --list`, or configure a model (--model, CLANKERD_MODEL) to route free-form questions", question)
	}
	return fmt.Errorf("no check matches %q well enough; the closest are %s (run one with `clankerd check`-style items, or configure a model with --model / CLANKERD_MODEL)", question, strings.Join(res.Closest, ", "))
}
