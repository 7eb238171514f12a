package github

import (
	"fmt"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/ghtest"
)

// benchOrg is 200 repositories × 10 workflows (3 of them scheduled), two runs per
// workflow, one failed latest run and one open alert of each kind per repository.
func benchOrg(repos, workflows int) []*ghtest.Repo {
	var out []*ghtest.Repo
	for i := range repos {
		r := &ghtest.Repo{Owner: "bench", Name: fmt.Sprintf("svc-%03d", i), DefaultBranch: "main", Private: i%10 != 0,
			Jobs:       map[int64][]ghtest.Job{},
			Dependabot: []*ghtest.DependabotAlert{{Number: 1, State: "open", Severity: "high", Ecosystem: "npm", Package: "lodash", GHSA: "GHSA-aaaa-bbbb-cccc", Summary: "x", Manifest: "package.json", Patched: "1.0.0"}},
			Code:       []*ghtest.CodeAlert{{Number: 1, State: "open", SecuritySeverity: "medium", RuleID: "js/xss", Description: "x", Path: "a.js", Line: 1}},
			Secret:     []*ghtest.SecretAlert{{Number: 1, State: "open", SecretType: "github_personal_access_token", Secret: "x"}},
		}
		if i%2 == 0 {
			r.Protection = &ghtest.Protection{RequiredReviews: 1}
		}
		for w := range workflows {
			id := int64(i*100 + w + 1)
			content, event := pushYAML, "push"
			if w < 3 {
				content, event = nightlyYAML, "schedule"
			}
			r.Workflows = append(r.Workflows, &ghtest.Workflow{ID: id, Name: fmt.Sprintf("wf%d", w), Path: fmt.Sprintf(".github/workflows/wf%d.yml", w),
				State: "active", Created: ago(400 * 24 * time.Hour), Content: content})
			conclusion := "success"
			if w == 0 {
				conclusion = "failure"
				r.Jobs[id*10+2] = []ghtest.Job{{Name: "build", Conclusion: "failure"}}
			}
			r.Runs = append(r.Runs,
				&ghtest.Run{ID: id*10 + 1, WorkflowID: id, Number: 1, Attempt: 1, Event: event, Status: "completed", Conclusion: "success", Branch: "main", SHA: "a", Created: ago(34 * time.Hour)},
				&ghtest.Run{ID: id*10 + 2, WorkflowID: id, Number: 2, Attempt: 1, Event: event, Status: "completed", Conclusion: conclusion, Branch: "main", SHA: "b", Created: ago(10 * time.Hour)})
		}
		out = append(out, r)
	}
	return out
}

// BenchmarkRounds runs every GitHub check over 200 repositories × 10 workflows: a
// first round, then an unchanged second round, and reports the requests and the
// rate-limit points each used.
//
//	go test -run '^$' -bench BenchmarkRounds -benchtime 1x ./providers/github/
func BenchmarkRounds(b *testing.B) {
	spec := ghtest.Require(b)
	ids := []string{"github.actions.failed", "github.actions.disabled", "github.dependabot.alerts", "github.codescanning.alerts",
		"github.secretscanning.alerts", "github.branches.unprotected", "github.repos.visibility"}
	for b.Loop() {
		s := ghtest.Start(b, spec, ghtest.Options{Limit: 1_000_000}, benchOrg(200, 10)...)
		p := New(Options{Getenv: env(nil), Now: func() time.Time { return now }})
		reg := checks.NewRegistry()
		if err := p.Register(reg); err != nil {
			b.Fatal(err)
		}
		round := func() (time.Duration, int) {
			r := checks.NewRound()
			start := time.Now()
			found := 0
			for _, id := range ids {
				c, _ := reg.Check(id)
				params, err := c.Spec().Bind(map[string]string{"api_url": s.URL, "owner": "bench"}, nil)
				if err != nil {
					b.Fatal(err)
				}
				res, err := c.Run(checks.WithRound(b.Context(), r), params)
				if err != nil {
					b.Fatalf("%s: %v", id, err)
				}
				found += len(res.Findings)
			}
			return time.Since(start), found
		}
		d1, f1 := round()
		first := s.Stats()
		d2, f2 := round()
		second := s.Stats()
		if f1 != f2 {
			b.Fatalf("findings %d then %d", f1, f2)
		}
		b.ReportMetric(float64(first.Requests), "requests/first")
		b.ReportMetric(float64(first.RateUsed), "ratelimit/first")
		b.ReportMetric(float64(second.Requests-first.Requests), "requests/second")
		b.ReportMetric(float64(second.NotModified-first.NotModified), "304s/second")
		b.ReportMetric(float64(second.RateUsed-first.RateUsed), "ratelimit/second")
		b.Logf("%d findings; first round %d requests (%d rate limit) in %s; second %d requests, %d of them 304, %d rate limit, in %s (stand-in validating every answer)",
			f1, first.Requests, first.RateUsed, d1.Round(time.Millisecond), second.Requests-first.Requests, second.NotModified-first.NotModified, second.RateUsed-first.RateUsed, d2.Round(time.Millisecond))
		var routes []string
		for k, v := range first.ByRoute {
			routes = append(routes, fmt.Sprintf("%s=%d", k, v))
		}
		b.Logf("first round by route: %v", routes)
	}
}
