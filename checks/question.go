package checks

import (
	"context"
	"regexp"
	"slices"
	"strings"
)

// Question is a plain-language question ("are all pods healthy in namespace shop?") as
// the router reads it. Providers take the values of their parameters from it (see
// Extractor).
type Question struct {
	// Text is the question as asked.
	Text string
	// Lower is Text in lower case, for patterns that span words.
	Lower string
	// Words are the words of Lower, punctuation trimmed at their ends:
	// "scale shop/api to 5!" gives scale, shop/api, to, 5. A URL is one word, as
	// written (its case, userinfo and query kept), so it reaches its parameter whole.
	Words []string
}

// wordSeparators split a question into words; what a word may hold (a/b, host:port,
// 10.0.0.0/8, $5, 20%) stays together.
var wordSeparators = regexp.MustCompile(`[^a-z0-9:/._%$-]+`)

// NewQuestion reads text the way the router does.
func NewQuestion(text string) Question {
	q := Question{Text: text, Lower: strings.ToLower(text)}
	for _, field := range strings.Fields(text) {
		if lower := strings.ToLower(field); strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
			q.Words = append(q.Words, strings.TrimRight(field, `?!.,;:)"'`))
			continue
		}
		for _, w := range wordSeparators.Split(strings.ToLower(field), -1) {
			if w = strings.Trim(w, ".-:/"); w != "" {
				q.Words = append(q.Words, w)
			}
		}
	}
	return q
}

// stopwords carry no meaning for routing or parameters.
var stopwords = map[string]bool{
	"a": true, "an": true, "the": true, "is": true, "are": true, "am": true, "be": true, "been": true, "do": true, "does": true, "did": true,
	"any": true, "all": true, "every": true, "there": true, "what": true, "which": true, "who": true, "how": true, "why": true, "when": true,
	"of": true, "in": true, "on": true, "at": true, "to": true, "for": true, "from": true, "by": true, "with": true, "and": true, "or": true,
	"my": true, "our": true, "we": true, "i": true, "me": true, "us": true, "it": true, "its": true, "this": true, "that": true, "these": true, "those": true,
	"have": true, "has": true, "had": true, "anything": true, "something": true, "some": true, "please": true, "can": true, "you": true, "check": true,
	"show": true, "list": true, "tell": true, "find": true, "get": true, "give": true, "right": true, "now": true, "currently": true, "still": true,
	"than": true, "more": true, "less": true, "over": true, "last": true, "past": true, "too": true, "much": true, "many": true, "should": true,
	"not": true, "no": true, "without": true, "lot": true, "so": true, "up": true, "any?": true, "ok": true, "okay": true, "fine": true,
}

// Stopword reports whether w is a word that carries no meaning for routing or
// parameters: "the", "are", "in", "all".
func Stopword(w string) bool { return stopwords[w] }

// Mentions reports whether one of words is a word of the question.
func (q Question) Mentions(words ...string) bool {
	for _, w := range words {
		if slices.Contains(q.Words, w) {
			return true
		}
	}
	return false
}

// Name returns the first word of the question that is one of names, compared without
// case and spelled as in names; "" when no word is.
func (q Question) Name(names []string) string {
	for _, w := range q.Words {
		for _, n := range names {
			if strings.ToLower(n) == w {
				return n
			}
		}
	}
	return ""
}

// Production returns the one of names that looks like production (it holds "prod")
// when the question says "production" or "prod"; "" when it does not, or when no name
// or several names look like it.
func (q Question) Production(names []string) string {
	if !q.Mentions("production", "prod") {
		return ""
	}
	found := ""
	for _, n := range names {
		if strings.Contains(strings.ToLower(n), "prod") {
			if found != "" {
				return ""
			}
			found = n
		}
	}
	return found
}

// After returns the word that follows the first of verbs in the question, skipping
// stopwords and fillers: in "cordon the node worker-3", After([]string{"cordon"},
// "node") is "worker-3". It is "" when nothing follows or a number does.
func (q Question) After(verbs []string, fillers ...string) string {
	for i, w := range q.Words {
		if !slices.Contains(verbs, w) {
			continue
		}
		for _, n := range q.Words[i+1:] {
			if Stopword(n) || slices.Contains(fillers, n) {
				continue
			}
			if strings.Trim(n, "0123456789") == "" {
				return ""
			}
			return n
		}
	}
	return ""
}

// Proposal is a value for one parameter, taken from a question.
type Proposal struct {
	Param string
	Value string
	// From says where the value came from: "the question", "a namespace that
	// exists", `"to 5"`.
	From string
	// Candidates, for a proposal without a Value, are the values the question could
	// mean ("billing-worker" is a Deployment in production and in staging): the
	// router then asks which instead of routing.
	Candidates []string
}

// String explains the value: "namespace=shop from the question".
// An ambiguous one lists its candidates: "deployment is one of a/x, b/x for "x"".
func (p Proposal) String() string {
	if p.Value == "" {
		return p.Param + " is one of " + strings.Join(p.Candidates, ", ") + " for " + p.From
	}
	return p.Param + "=" + p.Value + " from " + p.From
}

// Extractor takes the values of a spec's parameters from a question; names are the
// names that exist, as the same provider's Vocabulary reported them. The router keeps
// the first proposal for each parameter the spec declares, so an extractor proposes
// its best value first.
type Extractor interface {
	Extract(q Question, spec Spec, names map[string][]string) []Proposal
}

// Vocabulary names what exists, by kind, so that a word in a question can become a
// parameter value: {"context": ["prod-eu", "staging"], "namespace": ["shop"]}.
type Vocabulary interface {
	Names(ctx context.Context) map[string][]string
}

// Extraction collects the values taken from a question for one spec the way the
// router applies proposals: a value is kept when the spec declares its parameter, it
// is not empty, and no value was kept for that parameter before.
type Extraction struct {
	params    []ParamSpec
	proposals []Proposal
	ambiguous []Proposal
}

// NewExtraction starts an extraction for spec.
func NewExtraction(spec Spec) *Extraction { return &Extraction{params: spec.allParams()} }

// Set proposes value for param, taken from what from says.
func (e *Extraction) Set(param, value, from string) {
	if value != "" && e.Declares(param) && e.Value(param) == "" {
		e.proposals = append(e.proposals, Proposal{Param: param, Value: value, From: from})
	}
}

// Ambiguous says that the question names param in a way that fits each of
// candidates, and that none was chosen; it counts only while no value is kept.
func (e *Extraction) Ambiguous(param string, candidates []string, from string) {
	if len(candidates) > 1 && e.Declares(param) && e.Value(param) == "" {
		e.ambiguous = append(e.ambiguous, Proposal{Param: param, From: from, Candidates: candidates})
	}
}

// Declares reports whether the spec has the parameter.
func (e *Extraction) Declares(param string) bool { return hasParam(e.params, param) }

// Value is the value kept for param, "" when there is none yet.
func (e *Extraction) Value(param string) string {
	for _, p := range e.proposals {
		if p.Param == param {
			return p.Value
		}
	}
	return ""
}

// Proposals are the values kept, in the order they were set, then the parameters
// left ambiguous (no Value, their Candidates).
func (e *Extraction) Proposals() []Proposal {
	out := slices.Clone(e.proposals)
	for _, a := range e.ambiguous {
		if e.Value(a.Param) == "" {
			out = append(out, a)
		}
	}
	return out
}
