// Package redacttest is the corpus of secret shapes (and of look-alikes that are not
// secrets) that the tests of every way out of clankerd run through: the redactor's
// own, the views', the model client's and the built binary's.
package redacttest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
)

//go:embed testdata/secrets.txt
var corpus string

// Case is one line of the corpus.
type Case struct {
	// Name says what shape the case is; Line is where secrets.txt has it.
	Name string
	Line int
	// Text is the case with its markers taken out.
	Text string
	// Secrets are the marked parts: none of them, nor any of their words of four
	// characters or more, may survive redaction. A case without secrets must come out
	// of redaction unchanged.
	Secrets []string
}

// Corpus returns every case of secrets.txt, in file order. A malformed line panics:
// the corpus is a fixed file of this package.
func Corpus() []Case {
	var out []Case
	for i, line := range strings.Split(corpus, "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, text, ok := strings.Cut(line, " | ")
		if !ok {
			panic(fmt.Sprintf("secrets.txt:%d: want NAME | TEXT", i+1))
		}
		c := Case{Name: name, Line: i + 1}
		text = strings.ReplaceAll(text, `\n`, "\n")
		for {
			before, rest, found := strings.Cut(text, "«")
			if !found {
				c.Text += before
				break
			}
			secret, after, closed := strings.Cut(rest, "»")
			if !closed {
				panic(fmt.Sprintf("secrets.txt:%d: « without »", i+1))
			}
			c.Text += before + secret
			c.Secrets = append(c.Secrets, secret)
			text = after
		}
		out = append(out, c)
	}
	return out
}

// Secrets returns every case that holds a secret.
func Secrets() []Case {
	var out []Case
	for _, c := range Corpus() {
		if len(c.Secrets) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// Leaks returns what of c's secrets out still shows: a marked part, or one of its
// words of four characters or more, as written or as a JSON string writes it. For a
// case without secrets, it returns out itself when out does not hold c's text
// unchanged.
func (c Case) Leaks(out string) []string {
	if len(c.Secrets) == 0 {
		if !strings.Contains(out, c.Text) {
			return []string{out}
		}
		return nil
	}
	var leaks []string
	shows := func(part string) bool {
		j, _ := json.Marshal(part)
		return strings.Contains(out, part) || strings.Contains(out, string(j[1:len(j)-1]))
	}
	for _, s := range c.Secrets {
		if shows(s) {
			leaks = append(leaks, s)
			continue
		}
		for _, word := range strings.Fields(s) {
			if len([]rune(word)) >= 4 && shows(word) {
				leaks = append(leaks, word)
			}
		}
	}
	return leaks
}
