package github

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/checktest"
	"github.com/clankerd/clankerd/internal/testenv/ghtest"
)

// now is the tests' clock: a Wednesday, 12:00 UTC.
var now = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// sleeps records the waits the provider asked for, without waiting.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ds = append(s.ds, d)
	return ctx.Err()
}

func (s *sleeps) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

// env is an environment with the stand-in's token.
func env(extra map[string]string) func(string) string {
	m := map[string]string{"GH_ENTERPRISE_TOKEN": ghtest.Token, "HOME": "/nonexistent"}
	for k, v := range extra {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// standin starts the stand-in with repos and a provider pointed at it.
func standin(t *testing.T, opts Options, repos ...*ghtest.Repo) (*ghtest.Server, *Provider, *sleeps) {
	t.Helper()
	s := ghtest.Start(t, ghtest.Require(t), ghtest.Options{}, repos...)
	sl := &sleeps{}
	if opts.Getenv == nil {
		opts.Getenv = env(nil)
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	if opts.Sleep == nil {
		opts.Sleep = sl.sleep
	}
	return s, New(opts), sl
}

// runCheck runs a registered check against the stand-in, in a round of its own.
func runCheck(t *testing.T, p *Provider, s *ghtest.Server, id string, raw map[string]string) (checks.Result, error) {
	t.Helper()
	return runRound(t, p, s, checks.NewRound(), id, raw)
}

func runRound(t *testing.T, p *Provider, s *ghtest.Server, round *checks.Round, id string, raw map[string]string) (checks.Result, error) {
	t.Helper()
	reg := checks.NewRegistry()
	if err := p.Register(reg); err != nil {
		t.Fatal(err)
	}
	c, ok := reg.Check(id)
	if !ok {
		t.Fatalf("no check %s", id)
	}
	all := map[string]string{"api_url": s.URL}
	for k, v := range raw {
		all[k] = v
	}
	params, err := c.Spec().Bind(all, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Run(checks.WithRound(t.Context(), round), params)
}

// findings writes findings as "resource problem severity".
func findings(res checks.Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.Resource+" "+f.Problem+" "+string(f.Severity))
	}
	return out
}

// must fails the test on a check's error: must(t)(runCheck(...)).
func must(t *testing.T) func(checks.Result, error) checks.Result {
	return func(res checks.Result, err error) checks.Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
}

var (
	nightlyYAML = "name: nightly\non:\n  schedule:\n    - cron: '0 2 * * *'\n  workflow_dispatch:\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps: [{run: make}]\n"
	certsYAML   = "name: certs\n\"on\":\n  schedule:\n    - cron: \"0 3 * * *\"\njobs: {}\n"
	backupYAML  = "on:\n  schedule:\n  - cron: '30 1 * * 0'\njobs: {}\n"
	pushYAML    = "on: [push, pull_request]\njobs: {}\n"
)

func ago(d time.Duration) time.Time { return now.Add(-d) }

func intp(n int) *int { return &n }

// acme is the organization of the tests: every check's planted state and its
// healthy look-alikes.
func acme() []*ghtest.Repo {
	api := &ghtest.Repo{
		Owner: "acme", Name: "api", DefaultBranch: "main", Private: true,
		Workflows: []*ghtest.Workflow{
			{ID: 11, Name: "ci", Path: ".github/workflows/ci.yml", State: "active", Created: ago(400 * 24 * time.Hour), Content: pushYAML},
			{ID: 12, Name: "nightly", Path: ".github/workflows/nightly.yml", State: "active", Created: ago(400 * 24 * time.Hour), Content: nightlyYAML},
			{ID: 13, Name: "deploy", Path: ".github/workflows/deploy.yml", State: "active", Created: ago(400 * 24 * time.Hour), Content: pushYAML},
			{ID: 14, Name: "backup", Path: ".github/workflows/backup.yml", State: "disabled_inactivity", Created: ago(400 * 24 * time.Hour), Content: backupYAML},
			{ID: 15, Name: "old", Path: ".github/workflows/old.yml", State: "disabled_manually", Created: ago(400 * 24 * time.Hour), Content: pushYAML},
			{ID: 16, Name: "certs", Path: ".github/workflows/certs.yml", State: "active", Created: ago(400 * 24 * time.Hour), Content: certsYAML},
		},
		Runs: []*ghtest.Run{
			{ID: 1001, WorkflowID: 11, Number: 7, Attempt: 1, Event: "push", Status: "completed", Conclusion: "failure", Branch: "main", SHA: "aaaa1111", Created: ago(3 * time.Hour)},
			{ID: 1000, WorkflowID: 11, Number: 6, Attempt: 1, Event: "push", Status: "completed", Conclusion: "success", Branch: "main", SHA: "aaaa0000", Created: ago(5 * time.Hour)},
			{ID: 1002, WorkflowID: 11, Number: 8, Attempt: 1, Event: "push", Status: "completed", Conclusion: "success", Branch: "feature", SHA: "bbbb", Created: ago(time.Hour)},
			{ID: 2001, WorkflowID: 12, Number: 40, Attempt: 1, Event: "schedule", Status: "completed", Conclusion: "timed_out", Branch: "main", SHA: "aaaa1111", Created: ago(10 * time.Hour)},
			{ID: 3001, WorkflowID: 13, Number: 3, Attempt: 1, Event: "push", Status: "completed", Conclusion: "cancelled", Branch: "main", SHA: "aaaa0000", Created: ago(4 * time.Hour)},
			{ID: 3002, WorkflowID: 13, Number: 4, Attempt: 1, Event: "push", Status: "completed", Conclusion: "success", Branch: "main", SHA: "aaaa1111", Created: ago(3 * time.Hour)},
			{ID: 6001, WorkflowID: 16, Number: 9, Attempt: 1, Event: "schedule", Status: "completed", Conclusion: "success", Branch: "main", SHA: "aaaa0000", Created: ago(3 * 24 * time.Hour)},
		},
		Jobs: map[int64][]ghtest.Job{
			1001: {{Name: "build", Conclusion: "success"}, {Name: "test", Conclusion: "failure"}},
			2001: {{Name: "build", Conclusion: "timed_out"}},
		},
		Dependabot: []*ghtest.DependabotAlert{
			{Number: 1, State: "open", Severity: "high", Ecosystem: "npm", Package: "lodash", GHSA: "GHSA-aaaa-bbbb-cccc", Summary: "Prototype pollution", Manifest: "package-lock.json", Patched: "4.17.21"},
			{Number: 2, State: "dismissed", Severity: "critical", Ecosystem: "pip", Package: "django", GHSA: "GHSA-dddd-eeee-ffff", Summary: "SQL injection", Manifest: "requirements.txt", Patched: "4.2.1"},
			{Number: 3, State: "open", Severity: "low", Ecosystem: "go", Package: "golang.org/x/net", GHSA: "GHSA-gggg-hhhh-iiii", Summary: "Minor", Manifest: "go.mod", Patched: "0.30.0"},
		},
		Code:   []*ghtest.CodeAlert{{Number: 5, State: "open", SecuritySeverity: "high", RuleID: "go/sql-injection", Description: "Database query built from user-controlled sources", Path: "db.go", Line: 42}},
		Secret: []*ghtest.SecretAlert{{Number: 7, State: "open", SecretType: "aws_access_key_id", Secret: "AKIAIOSFODNN7EXAMPLE"}, {Number: 8, State: "resolved", SecretType: "slack_webhook", Secret: "x"}},
	}
	web := &ghtest.Repo{Owner: "acme", Name: "web", DefaultBranch: "main", RulesetReviews: intp(1), Topics: []string{"frontend"},
		DependabotOff: true, CodeScanningOff: true, SecretScanningOff: true}
	lib := &ghtest.Repo{Owner: "acme", Name: "lib", DefaultBranch: "trunk", Private: true, Protection: &ghtest.Protection{RequiredReviews: 0}}
	guarded := &ghtest.Repo{Owner: "acme", Name: "guarded", DefaultBranch: "main", Private: true, Protection: &ghtest.Protection{RequiredReviews: 2}}
	legacy := &ghtest.Repo{Owner: "acme", Name: "legacy", DefaultBranch: "master", Archived: true}
	return []*ghtest.Repo{api, web, lib, guarded, legacy}
}

func TestChecksFindPlantedStateAndStayQuietOnLookAlikes(t *testing.T) {
	s, p, _ := standin(t, Options{}, acme()...)
	for _, tc := range []struct {
		id   string
		raw  map[string]string
		want []string
	}{
		// ci's latest main run failed (a later success on a feature branch does not
		// count); nightly's scheduled run timed out; deploy's cancelled run was
		// superseded by a success.
		{"github.actions.failed", map[string]string{"owner": "acme"}, []string{
			"workflow/acme/api/ci.yml latest_run_failed medium",
			"workflow/acme/api/nightly.yml latest_run_failed high",
		}},
		{"github.actions.failed", map[string]string{"repos": "acme/api", "branch": "feature"}, nil},
		// backup is scheduled and disabled for inactivity; old is disabled but has no
		// schedule; certs' daily schedule has not run for three days; nightly ran 10
		// hours ago, on time.
		{"github.actions.disabled", map[string]string{"owner": "acme"}, []string{
			"workflow/acme/api/backup.yml disabled_inactivity high",
			"workflow/acme/api/certs.yml schedule_late high",
		}},
		{"github.actions.disabled", map[string]string{"owner": "acme", "late": "4d"}, []string{
			"workflow/acme/api/backup.yml disabled_inactivity high",
		}},
		// #2 is dismissed; #3 is below min_severity; web has Dependabot off.
		{"github.dependabot.alerts", map[string]string{"owner": "acme", "min_severity": "medium"}, []string{"alert/acme/api/dependabot/1 open_alert high"}},
		{"github.dependabot.alerts", map[string]string{"owner": "acme"}, []string{"alert/acme/api/dependabot/1 open_alert high", "alert/acme/api/dependabot/3 open_alert low"}},
		{"github.codescanning.alerts", map[string]string{"owner": "acme"}, []string{"alert/acme/api/code-scanning/5 open_alert high"}},
		{"github.secretscanning.alerts", map[string]string{"owner": "acme"}, []string{"alert/acme/api/secret-scanning/7 open_alert high"}},
		// web has a ruleset instead of branch protection; guarded requires reviews; lib
		// is protected without a review; legacy is archived.
		{"github.branches.unprotected", map[string]string{"owner": "acme"}, []string{
			"repo/acme/api unprotected high",
			"repo/acme/lib no_required_review medium",
		}},
		{"github.repos.visibility", map[string]string{"owner": "acme"}, []string{"repo/acme/web public info"}},
		{"github.repos.visibility", map[string]string{"owner": "acme", "topic": "frontend"}, []string{"repo/acme/web public info"}},
		{"github.repos.visibility", map[string]string{"repos": "acme/api,acme/legacy"}, []string{"repo/acme/legacy public info"}},
	} {
		t.Run(tc.id+fmt.Sprint(tc.raw), func(t *testing.T) {
			res := must(t)(runCheck(t, p, s, tc.id, tc.raw))
			checktest.Expect(t, tc.id, findings(res), tc.want...)
		})
	}
}

func TestFailedRunEvidence(t *testing.T) {
	s, p, _ := standin(t, Options{}, acme()...)
	res := must(t)(runCheck(t, p, s, "github.actions.failed", map[string]string{"repos": "acme/api"}))
	var nightly checks.Finding
	for _, f := range res.Findings {
		if f.Resource == "workflow/acme/api/nightly.yml" {
			nightly = f
		}
	}
	if nightly.Evidence["run_url"] != "https://github.com/acme/api/actions/runs/2001" || nightly.Evidence["failed_jobs"] != "build" ||
		nightly.Evidence["conclusion"] != "timed_out" || !strings.Contains(nightly.Summary, "scheduled run of nightly in acme/api on main: #40 timed out (build)") {
		t.Errorf("nightly finding = %+v", nightly)
	}
	if res.Evidence["rate_limit"] != "5000" || res.Evidence["rate_limit_remaining"] == "" {
		t.Errorf("run evidence lacks the rate limit: %v", res.Evidence)
	}
}

func TestSecretAlertNeverCarriesTheSecret(t *testing.T) {
	s, p, _ := standin(t, Options{}, acme()...)
	res := must(t)(runCheck(t, p, s, "github.secretscanning.alerts", map[string]string{"repos": "acme/api"}))
	for _, f := range res.Findings {
		if strings.Contains(fmt.Sprint(f), "AKIAIOSFODNN7EXAMPLE") {
			t.Errorf("finding carries the secret: %+v", f)
		}
	}
}

func TestFeatureOffEverywhereSkips(t *testing.T) {
	s, p, _ := standin(t, Options{}, acme()...)
	_, err := runCheck(t, p, s, "github.codescanning.alerts", map[string]string{"repos": "acme/web"})
	if reason, ok := checks.IsSkip(err); !ok || !strings.Contains(reason, "code scanning is not enabled on any of the 1 repositories") {
		t.Errorf("code scanning off: %v", err)
	}
	res := must(t)(runCheck(t, p, s, "github.dependabot.alerts", map[string]string{"owner": "acme"}))
	if res.Evidence["not_enabled"] != "acme/web" {
		t.Errorf("evidence = %v", res.Evidence)
	}
}

func TestPagination(t *testing.T) {
	var repos []*ghtest.Repo
	for i := range 150 {
		repos = append(repos, &ghtest.Repo{Owner: "big", Name: fmt.Sprintf("r%03d", i), DefaultBranch: "main"})
	}
	s, p, _ := standin(t, Options{}, repos...)
	res := must(t)(runCheck(t, p, s, "github.repos.visibility", map[string]string{"owner": "big"}))
	if len(res.Findings) != 150 {
		t.Fatalf("%d findings, want 150", len(res.Findings))
	}
	if n := s.Stats().ByRoute["GET /orgs/{org}/repos"]; n != 2 {
		t.Errorf("org listing requested %d times, want 2 pages of 100", n)
	}
}

// TestSecondRoundIsNotModified runs every check twice on an unchanged organization:
// the second round is answered with 304s and costs no rate limit; a change is seen.
func TestSecondRoundIsNotModified(t *testing.T) {
	s, p, _ := standin(t, Options{}, acme()...)
	ids := []string{"github.actions.failed", "github.actions.disabled", "github.dependabot.alerts", "github.codescanning.alerts",
		"github.secretscanning.alerts", "github.branches.unprotected", "github.repos.visibility"}
	roundOf := func() {
		round := checks.NewRound()
		for _, id := range ids {
			if _, err := runRound(t, p, s, round, id, map[string]string{"owner": "acme"}); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
	}
	roundOf()
	first := s.Stats()
	roundOf()
	second := s.Stats()
	requests, cost := second.Requests-first.Requests, second.RateUsed-first.RateUsed
	// The 403s and 404s of the first round (features off, branches without
	// protection) are not asked again for NegativeTTL; everything else is a 304.
	negative := p.Stats().Negative
	if negative != 5 || requests != first.Requests-int(negative) || second.NotModified-first.NotModified != requests {
		t.Errorf("second round: %d requests, %d answered 304, %d answered from the cache; first round %d requests", requests, second.NotModified-first.NotModified, negative, first.Requests)
	}
	if cost != 0 {
		t.Errorf("unchanged second round cost %d of the rate limit, want 0", cost)
	}
	t.Logf("first round %d requests (%d rate limit), second %d requests (%d rate limit)", first.Requests, first.RateUsed, requests, cost)

	// An alert fixed between rounds: one listing changes, its finding goes.
	s.Change(func(rs []*ghtest.Repo) { rs[0].Dependabot[0].State = "fixed" })
	res := must(t)(runCheck(t, p, s, "github.dependabot.alerts", map[string]string{"owner": "acme", "min_severity": "medium"}))
	if len(res.Findings) != 0 {
		t.Errorf("fixed alert still found: %v", findings(res))
	}
	if got := p.Stats(); got.NotModified == 0 || got.Requests != int64(s.Stats().Requests) {
		t.Errorf("provider stats %+v, stand-in %+v", got, s.Stats())
	}
}
