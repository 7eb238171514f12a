package github

import (
	"context"
	"fmt"
	"strconv"

	gh "github.com/google/go-github/v84/github"

	"github.com/clankerd/clankerd/checks"
)

// alert is one open security alert of a repository, as the three alert APIs have it.
type alert struct {
	kind     string // dependabot, code-scanning, secret-scanning
	number   int
	severity checks.Severity
	title    string
	htmlURL  string
	evidence map[string]string
}

// The alert kinds, as resources name them (alert/OWNER/NAME/KIND/NUMBER).
const (
	kindDependabot = "dependabot"
	kindCode       = "code-scanning"
	kindSecret     = "secret-scanning"
)

var minSeverityParam = checks.ParamSpec{
	Name: "min_severity", Type: checks.Enum, Default: "low", Choices: []string{"low", "medium", "high", "critical"},
	Doc: "report open alerts at or above this severity",
}

// openAlerts reads a repository's open alerts of a kind: one paginated listing. A
// repository where the feature is off returns errFeatureOff.
func (c *client) openAlerts(ctx context.Context, r repo, kind string) ([]alert, error) {
	return checks.Memo(ctx, c.memoKey("alerts/"+kind+"/"+r.full()), func(ctx context.Context) ([]alert, error) {
		call := "GET /repos/" + r.full() + "/" + kind + "/alerts"
		switch kind {
		case kindDependabot:
			return collect(c, call, callDependabot, c.gh.Dependabot.ListRepoAlertsIter(ctx, r.owner, r.name, &gh.ListAlertsOptions{State: gh.Ptr("open"), ListOptions: gh.ListOptions{PerPage: 100}}), dependabotAlert)
		case kindCode:
			return collect(c, call, callCode, c.gh.CodeScanning.ListAlertsForRepoIter(ctx, r.owner, r.name, &gh.AlertListOptions{State: "open", ListOptions: gh.ListOptions{PerPage: 100}}), codeAlert)
		default:
			return collect(c, call, callSecret, c.gh.SecretScanning.ListAlertsForRepoIter(ctx, r.owner, r.name, &gh.SecretScanningAlertListOptions{State: "open", ListOptions: gh.ListOptions{PerPage: 100}}), secretAlert)
		}
	})
}

func dependabotAlert(a *gh.DependabotAlert) alert {
	adv, vuln := a.GetSecurityAdvisory(), a.GetSecurityVulnerability()
	sev := vuln.GetSeverity()
	if sev == "" {
		sev = adv.GetSeverity()
	}
	pkg := vuln.GetPackage()
	ev := map[string]string{
		"advisory": adv.GetGHSAID(), "package": pkg.GetName(), "ecosystem": pkg.GetEcosystem(),
		"manifest": a.GetDependency().GetManifestPath(), "url": a.GetHTMLURL(),
	}
	if fixed := vuln.GetFirstPatchedVersion().GetIdentifier(); fixed != "" {
		ev["patched_in"] = fixed
	}
	return alert{kind: kindDependabot, number: a.GetNumber(), severity: severityOf(sev), htmlURL: a.GetHTMLURL(), evidence: ev,
		title: fmt.Sprintf("%s in %s %s", adv.GetSummary(), pkg.GetEcosystem(), pkg.GetName())}
}

func codeAlert(a *gh.Alert) alert {
	rule := a.GetRule()
	sev := rule.GetSecuritySeverityLevel()
	if sev == "" {
		// Rules without a security severity (quality queries) have note, warning or error.
		sev = map[string]string{"note": "low", "warning": "medium", "error": "high"}[rule.GetSeverity()]
	}
	ev := map[string]string{"rule": rule.GetID(), "tool": a.GetTool().GetName(), "url": a.GetHTMLURL()}
	if loc := a.GetMostRecentInstance().GetLocation(); loc.GetPath() != "" {
		ev["location"] = loc.GetPath() + ":" + strconv.Itoa(loc.GetStartLine())
	}
	title := rule.GetDescription()
	if title == "" {
		title = rule.GetID()
	}
	return alert{kind: kindCode, number: a.GetNumber(), severity: severityOf(sev), htmlURL: a.GetHTMLURL(), evidence: ev, title: title}
}

// secretAlert keeps the secret's type, never the secret the API also returns.
func secretAlert(a *gh.SecretScanningAlert) alert {
	ev := map[string]string{"secret_type": a.GetSecretType(), "url": a.GetHTMLURL()}
	if a.GetPubliclyLeaked() {
		ev["publicly_leaked"] = "true"
	}
	if v := a.GetValidity(); v != "" {
		ev["validity"] = v
	}
	sev := checks.High
	if a.GetValidity() == "active" || a.GetPubliclyLeaked() {
		sev = checks.Critical
	}
	name := a.GetSecretTypeDisplayName()
	if name == "" {
		name = a.GetSecretType()
	}
	return alert{kind: kindSecret, number: a.GetNumber(), severity: sev, htmlURL: a.GetHTMLURL(), evidence: ev, title: name + " committed to the repository"}
}

// severityOf maps GitHub's severities (low, medium or moderate, high, critical) to
// clankerd's; an unknown one is medium.
func severityOf(s string) checks.Severity {
	switch s {
	case "low":
		return checks.Low
	case "high":
		return checks.High
	case "critical":
		return checks.Critical
	}
	return checks.Medium
}

// alertsLook is the look of an alerts check of one kind.
func (p *Provider) alertsLook(kind, fix string) lookFunc {
	return func(ctx context.Context, c *client, params checks.Params) ([]checks.Finding, []string, error) {
		minRank, _ := checks.ParseSeverity(params.Get("min_severity"))
		return p.forEachRepo(ctx, c, params, func(ctx context.Context, r repo) ([]checks.Finding, error) {
			as, err := c.openAlerts(ctx, r, kind)
			if err != nil {
				return nil, err
			}
			var out []checks.Finding
			for _, a := range as {
				if a.severity.Rank() < minRank.Rank() {
					continue
				}
				out = append(out, checks.Finding{
					Resource: fmt.Sprintf("alert/%s/%s/%d", r.full(), a.kind, a.number),
					Problem:  "open_alert",
					Severity: a.severity,
					Summary:  fmt.Sprintf("%s #%d in %s: %s", kindTitle[kind], a.number, r.full(), a.title),
					Evidence: a.evidence,
					Fix:      fix + " " + a.htmlURL,
				})
			}
			return out, nil
		})
	}
}

var kindTitle = map[string]string{kindDependabot: "Dependabot alert", kindCode: "code scanning alert", kindSecret: "secret scanning alert"}
