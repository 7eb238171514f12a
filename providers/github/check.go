package github

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// lookFunc looks at the repositories in scope for findings; off names the
// repositories where the feature it reads is not enabled.
type lookFunc func(ctx context.Context, c *client, params checks.Params) (fs []checks.Finding, off []string, err error)

// checkList is the catalog of GitHub checks; their ids are the contract.
func (p *Provider) checkList() []checks.Check {
	defs := []struct {
		spec checks.Spec
		look lookFunc
		off  string // what "off" means, for the skip reason
	}{
		{spec: spec("github.actions.failed", "workflows whose latest run on the default branch (or branch=) failed, timed out or was cancelled; scheduled workflows first", checks.CategoryHealth,
			[]string{"actions", "workflow", "workflows", "ci", "build", "builds", "nightly", "nightly build", "pipeline", "pipelines", "red", "github actions", "failed workflow", "failed workflows", "failing workflows", "workflows failing", "builds failing", "build fail", "build failed", "ci failing", "ci red", "pipeline fail", "deploy pipeline"},
			branchParam),
			look: p.actionsFailed},
		{spec: spec("github.actions.disabled", "scheduled workflows that GitHub or someone disabled, and scheduled workflows whose last run is older than their schedule allows", checks.CategoryHealth,
			[]string{"scheduled workflows", "scheduled workflow", "disabled workflows", "disabled workflow", "cron workflows", "workflow schedule", "disabled", "inactivity", "disabled for inactivity", "not running", "stopped running", "schedule late"},
			checks.ParamSpec{Name: "late", Type: checks.Duration, Default: "2h", Doc: "report a scheduled workflow this long after a run its schedule called for did not happen"}),
			look: p.actionsDisabled},
		{spec: spec("github.dependabot.alerts", "open Dependabot alerts at or above min_severity, one finding per alert", checks.CategoryExposure,
			[]string{"dependabot", "dependabot alerts", "open dependabot alerts", "vulnerable dependencies", "vulnerabilities", "cve", "advisories", "security alerts", "alerts", "dependencies"},
			minSeverityParam),
			look: p.alertsLook(kindDependabot, "update the dependency (Dependabot may have opened a pull request), or dismiss the alert with a reason:"), off: "Dependabot alerts are"},
		{spec: spec("github.codescanning.alerts", "open code scanning alerts at or above min_severity, one finding per alert", checks.CategoryExposure,
			[]string{"code scanning", "codeql", "sast", "security alerts", "alerts", "vulnerabilities"},
			minSeverityParam),
			look: p.alertsLook(kindCode, "fix the code (or dismiss the alert with a reason):"), off: "code scanning is"},
		{spec: spec("github.secretscanning.alerts", "open secret scanning alerts (leaked tokens and keys), one finding per alert", checks.CategoryExposure,
			[]string{"secret scanning", "secret scanning alerts", "leaked secrets", "leaked secret", "leaked", "secrets", "credentials in code", "security alerts", "alerts", "tokens"},
			minSeverityParam),
			look: p.alertsLook(kindSecret, "revoke the secret at its issuer, then close the alert as revoked:"), off: "secret scanning is"},
		{spec: spec("github.branches.unprotected", "default branches with neither branch protection nor a ruleset that requires an approving pull request review", checks.CategoryAccess,
			[]string{"branch protection", "protected branches", "unprotected", "unprotected branches", "default branch", "main branch", "main", "master", "rulesets", "ruleset", "reviews", "review", "force push"}),
			look: p.branchesUnprotected},
		{spec: spec("github.repos.visibility", "repositories that are public (information: with history, a repository turning public is news)", checks.CategoryExposure,
			[]string{"public repositories", "public repos", "public", "visibility", "repository visibility", "open source", "private"}),
			look: p.reposVisibility},
	}
	out := make([]checks.Check, 0, len(defs))
	for _, d := range defs {
		out = append(out, &check{spec: d.spec, p: p, look: d.look, off: d.off})
	}
	return out
}

// check is one GitHub check.
type check struct {
	spec checks.Spec
	p    *Provider
	look lookFunc
	off  string
}

var _ checks.Check = (*check)(nil)

func (k *check) Spec() checks.Spec { return k.spec }

// Run connects, looks, and reports the rate limit left in the run's evidence (where
// `clankerd status` and the run history show it).
func (k *check) Run(ctx context.Context, params checks.Params) (checks.Result, error) {
	c, err := k.p.connect(params)
	if err != nil {
		return checks.Result{}, err
	}
	before := c.tr.Stats()
	fs, off, err := k.look(ctx, c, params)
	if err != nil {
		return checks.Result{}, err
	}
	if len(off) > 0 && len(fs) == 0 {
		if rs, err := c.repos(ctx, params); err == nil && len(rs) == len(off) {
			return checks.Result{}, checks.Skip(fmt.Sprintf("%s not enabled on any of the %d repositories in scope", k.off, len(off)))
		}
	}
	after := c.tr.Stats()
	ev := map[string]string{"api": c.api, "token": c.source}
	if after.RateLimit > 0 {
		ev["rate_limit_remaining"] = strconv.Itoa(after.RateRemaining)
		ev["rate_limit"] = strconv.Itoa(after.RateLimit)
		ev["rate_limit_reset"] = after.RateReset.UTC().Format(time.RFC3339)
	}
	ev["requests"] = strconv.FormatInt(after.Requests-before.Requests, 10)
	ev["not_modified"] = strconv.FormatInt(after.NotModified-before.NotModified, 10)
	if len(off) > 0 {
		ev["not_enabled"] = strings.Join(off, ",")
	}
	return checks.Result{Findings: fs, Evidence: ev}, nil
}
