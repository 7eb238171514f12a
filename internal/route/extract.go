package route

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/clankerd/clankerd/checks"
)

// What any check may take from a question: numbers, durations, amounts, URLs and
// addresses.
var (
	moreThan     = regexp.MustCompile(`(?:more than|over|above|at least|exceeds?|>=?)\s*(\d+)`)
	toNumber     = regexp.MustCompile(`\bto\s+(\d+)\b`)
	durationText = regexp.MustCompile(`(?:last|past|for|in|within|older than|over|more than|longer than)\s+(?:the\s+)?(?:next\s+)?(\d+)\s*(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)\b`)
	durationBare = regexp.MustCompile(`(?:last|past|for|within|this)\s+(?:the\s+)?(minute|hour|day|week|month)\b`)
	dollars      = regexp.MustCompile(`\$\s?(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*(?:dollars|usd)\b`)
	hostPort     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?:\d{1,5}$`)
	hostName     = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$`)
)

// durationParams are tried in order for a duration in the question.
var durationParams = []string{"since", "window", "for", "unused", "max_age", "warn", "late"}

// extract takes the parameters of spec that the question gives, and says where each
// came from: first what the providers propose (names[i] are the names providers[i]
// knows), then what any check may take. ambiguous says which parameters the question
// names in a way that fits several values, and what they are.
func (r *Router) extract(q checks.Question, spec checks.Spec, names []map[string][]string) (params map[string]string, why, ambiguous []string) {
	e := checks.NewExtraction(spec)
	for i, p := range r.providers {
		for _, v := range p.Extract(q, spec, names[i]) {
			if v.Value == "" {
				e.Ambiguous(v.Param, v.Candidates, v.From)
				continue
			}
			e.Set(v.Param, v.Value, v.From)
		}
	}
	extractGeneric(e, q, spec)
	params = map[string]string{}
	for _, v := range e.Proposals() {
		if v.Value == "" {
			ambiguous = append(ambiguous, fmt.Sprintf("%s: %s could be %s", spec.ID, v.From, strings.Join(v.Candidates, ", ")))
			continue
		}
		params[v.Param] = v.Value
		why = append(why, v.String())
	}
	return params, why, ambiguous
}

// extractGeneric takes numbers as thresholds ("more than 10") or as the targets of
// tasks ("to 5"), durations, dollar amounts, URLs and addresses.
func extractGeneric(e *checks.Extraction, q checks.Question, spec checks.Spec) {
	for _, p := range spec.Params {
		if p.Type != checks.Int {
			continue
		}
		if p.Required {
			if m := toNumber.FindStringSubmatch(q.Lower); m != nil {
				e.Set(p.Name, m[1], `"to `+m[1]+`"`)
			}
		} else if m := moreThan.FindStringSubmatch(q.Lower); m != nil {
			e.Set(p.Name, m[1], strings.TrimSpace(m[0]))
		}
	}
	if m := durationText.FindStringSubmatch(q.Lower); m != nil {
		order := durationParams
		if strings.HasPrefix(m[0], "older") {
			order = append([]string{"max_age"}, order...)
		}
		setDuration(e, spec, order, m[1]+unit(m[2]), strings.TrimSpace(m[0]))
	} else if m := durationBare.FindStringSubmatch(q.Lower); m != nil {
		value := map[string]string{"minute": "1m", "hour": "1h", "day": "1d", "week": "7d", "month": "30d"}[m[1]]
		setDuration(e, spec, durationParams, value, strings.TrimSpace(m[0]))
	}
	if m := dollars.FindStringSubmatch(q.Lower); m != nil {
		amount := m[1] + m[2]
		e.Set("budget", amount, "$"+amount)
		e.Set("min_cost", amount, "$"+amount)
	}
	for _, w := range q.Words {
		switch {
		case isURL(w):
			e.Set("url", w, "the question")
		case hostPort.MatchString(w):
			e.Set("addr", w, "the question")
		case hostName.MatchString(w) && e.Declares("addr") && !e.Declares("url"):
			if p, _ := spec.Param("addr"); strings.Contains(p.Doc, "443") {
				e.Set("addr", w, "the question")
			}
		}
	}
}

// setDuration gives the duration to the first of names that the spec has as a
// duration.
func setDuration(e *checks.Extraction, spec checks.Spec, names []string, value, from string) {
	for _, name := range names {
		if p, ok := spec.Param(name); ok && p.Type == checks.Duration {
			e.Set(name, value, from)
			return
		}
	}
}

func isURL(w string) bool { return strings.HasPrefix(w, "http://") || strings.HasPrefix(w, "https://") }

func unit(u string) string {
	switch u[0] {
	case 'm':
		return "m"
	case 'h':
		return "h"
	case 'd':
		return "d"
	case 'w':
		return "w"
	}
	return u
}
