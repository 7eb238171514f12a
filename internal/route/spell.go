package route

import "strings"

// spell corrects words that are one typo away from exactly one word of the catalog's
// keywords ("healty", "sclae", "unatached"): a letter missing, added, replaced, or
// two letters swapped; of several such words, the one with a letter left out.
// Short words, words with digits or punctuation (names, ids) and
// words the catalog or the stopwords know are kept as they are.
func (r *Router) spell(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t
		if len(t) < 5 || r.vocabulary[t] || r.verbs[t] || strings.ContainsFunc(t, func(c rune) bool { return c < 'a' || c > 'z' }) {
			continue
		}
		var near, missing []string
		for w := range r.vocabulary {
			if oneTypo(t, w) {
				near = append(near, w)
				if len(w) == len(t)+1 {
					missing = append(missing, w)
				}
			}
		}
		// Several words are near: a letter left out is the likeliest typo.
		match := ""
		switch {
		case len(near) == 1:
			match = near[0]
		case len(missing) == 1:
			match = missing[0]
		}
		if match != "" {
			out[i] = match
		}
	}
	return out
}

// oneTypo reports whether a and b differ by one edit: a letter inserted, deleted or
// replaced, or two neighbours swapped.
func oneTypo(a, b string) bool {
	if a == b {
		return false
	}
	switch len(a) - len(b) {
	case 0:
		var diff []int
		for i := range a {
			if a[i] != b[i] {
				diff = append(diff, i)
			}
		}
		return len(diff) == 1 || (len(diff) == 2 && diff[1] == diff[0]+1 && a[diff[0]] == b[diff[1]] && a[diff[1]] == b[diff[0]])
	case 1:
		return deletes(a, b)
	case -1:
		return deletes(b, a)
	}
	return false
}

// deletes reports whether deleting one letter of long gives short.
func deletes(long, short string) bool {
	for i := range long {
		if long[:i]+long[i+1:] == short {
			return true
		}
	}
	return false
}
