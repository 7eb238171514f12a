package github

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/clankerd/clankerd/checks"
)

// repoResource names a repository: repo/OWNER/NAME.
func repoResource(r repo) string { return "repo/" + r.full() }

// branchesUnprotected reports default branches that neither branch protection nor a
// ruleset guards with a required approving review. A ruleset counts as much as branch
// protection: many organizations moved to rulesets.
func (p *Provider) branchesUnprotected(ctx context.Context, c *client, params checks.Params) ([]checks.Finding, []string, error) {
	return p.forEachRepo(ctx, c, params, func(ctx context.Context, r repo) ([]checks.Finding, error) {
		if r.defaultBranch == "" {
			return nil, nil // an empty repository has no branch yet
		}
		pr, err := c.protection(ctx, r, r.defaultBranch)
		if err != nil {
			return nil, err
		}
		if pr.protectReviews >= 1 || pr.rulesReviews >= 1 {
			return nil, nil
		}
		ev := map[string]string{"branch": r.defaultBranch, "branch_protection": strconv.FormatBool(pr.protected)}
		if len(pr.rulesets) > 0 {
			ev["rulesets"] = strings.Join(pr.rulesets, ",")
		}
		f := checks.Finding{Resource: repoResource(r), Evidence: ev,
			Fix: fmt.Sprintf("add a ruleset (or branch protection) for %s that requires a pull request with at least one approving review: Settings → Rules → Rulesets of %s", r.defaultBranch, r.htmlURL)}
		if !pr.protected && pr.rulesReviews < 0 {
			f.Problem, f.Severity = "unprotected", checks.High
			f.Summary = fmt.Sprintf("the default branch %s of %s has neither branch protection nor a ruleset: anyone with write access can push to it, force-push or delete it", r.defaultBranch, r.full())
		} else {
			f.Problem, f.Severity = "no_required_review", checks.Medium
			f.Summary = fmt.Sprintf("the default branch %s of %s is protected, but nothing requires an approving review before a merge", r.defaultBranch, r.full())
		}
		return []checks.Finding{f}, nil
	})
}

// reposVisibility reports public repositories, as information.
func (p *Provider) reposVisibility(ctx context.Context, c *client, params checks.Params) ([]checks.Finding, []string, error) {
	return p.forEachRepo(ctx, c, params, func(ctx context.Context, r repo) ([]checks.Finding, error) {
		if r.visibility != "public" {
			return nil, nil
		}
		return []checks.Finding{{
			Resource: repoResource(r), Problem: "public", Severity: checks.Info,
			Summary:  fmt.Sprintf("%s is public: anyone can read its code, issues and Actions logs", r.full()),
			Evidence: map[string]string{"visibility": r.visibility, "url": r.htmlURL},
			Fix:      "if it should not be public: Settings → General → Danger Zone → Change visibility",
		}}, nil
	})
}
