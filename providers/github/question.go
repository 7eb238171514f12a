package github

import (
	"context"
	"regexp"
	"strings"

	"github.com/clankerd/clankerd/checks"
)

// The words questions use for GitHub: whether a token is configured, and the
// parameters a question gives.
var (
	_ checks.Vocabulary = (*Provider)(nil)
	_ checks.Extractor  = (*Provider)(nil)
)

// What GitHub names look like in a question: OWNER/NAME (stricter than
// validateRepo: a word is taken only when it looks like one), a run id after "run",
// a workflow file.
var (
	repoWord     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*/[a-z0-9._-]+$`) // lengths: validateRepo
	runWord      = regexp.MustCompile(`^[0-9]{5,20}$`)
	workflowWord = regexp.MustCompile(`^[a-z0-9._-]+\.ya?ml$`)
)

// Names says which GitHub host has a token ("host": the host), so that a router sees
// GitHub configured; nothing when no token is found. The token itself is never
// returned.
func (p *Provider) Names(context.Context) map[string][]string {
	host, _, err := p.endpoint("", "")
	if err != nil {
		return map[string][]string{}
	}
	tok, _, err := findToken(p.opts.Getenv, host)
	if err != nil || tok == "" {
		return map[string][]string{}
	}
	return map[string][]string{"host": {host}}
}

// Extract takes the parameters of the GitHub checks and tasks from a question:
// repositories written OWNER/NAME, an owner after "org" or "owner", a branch after
// "branch", a run id and a workflow file.
func (p *Provider) Extract(q checks.Question, spec checks.Spec, names map[string][]string) []checks.Proposal {
	e := checks.NewExtraction(spec)
	if !strings.HasPrefix(spec.ID, "github.") {
		return e.Proposals()
	}
	branch := q.After([]string{"branch"})
	var repos []string
	for _, w := range q.Words {
		switch {
		case w == branch:
		case repoWord.MatchString(w) && validateRepo(w) == nil:
			repos = append(repos, w)
		case workflowWord.MatchString(w):
			e.Set("workflow", w, "the question")
		case runWord.MatchString(w):
			e.Set("run", w, "the question")
		}
	}
	if len(repos) > 0 {
		if e.Declares("repo") {
			e.Set("repo", repos[0], "the question")
		} else {
			e.Set("repos", strings.Join(repos, ","), "the question")
		}
	}
	if o := q.After([]string{"org", "organization", "owner"}); o != "" && validateOwner(o) == nil {
		e.Set("owner", o, "the question")
	}
	if branch != "" && validateBranch(branch) == nil {
		e.Set("branch", branch, "the question")
	}
	return e.Proposals()
}

// Owns reports whether check is one of the provider's: a question about a category
// ("anything exposed?") runs it only when a token is configured.
func (p *Provider) Owns(check string) bool { return strings.HasPrefix(check, "github.") }
