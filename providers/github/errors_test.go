package github

import (
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/checktest"
	"github.com/clankerd/clankerd/internal/testenv/ghtest"
)

func TestNoTokenSkips(t *testing.T) {
	s, p, _ := standin(t, Options{Getenv: func(string) string { return "" }}, acme()...)
	_, err := runCheck(t, p, s, "github.repos.visibility", map[string]string{"owner": "acme"})
	if reason, ok := checks.IsSkip(err); !ok || !strings.Contains(reason, "no GitHub token for 127.0.0.1: set GH_TOKEN or GITHUB_TOKEN, or run `gh auth login") {
		t.Errorf("no token: %v", err)
	}
	if s.Stats().Requests != 0 {
		t.Error("requests sent without a token")
	}
}

func TestCallErrors(t *testing.T) {
	const wrong = "ghp_wrongwrongwrongwrongwrongwrongwrong00"
	for _, tc := range []struct {
		name   string
		env    map[string]string
		setup  func(s *ghtest.Server)
		id     string
		raw    map[string]string
		want   []string
		hidden string
	}{
		{name: "401", env: map[string]string{"GH_ENTERPRISE_TOKEN": wrong}, id: "github.repos.visibility", raw: map[string]string{"owner": "acme"},
			want: []string{"GET /orgs/acme/repos: GitHub rejected the token from GH_ENTERPRISE_TOKEN (401 Bad credentials)", "gh auth login --hostname 127.0.0.1"}, hidden: wrong},
		{name: "403", setup: func(s *ghtest.Server) {
			s.Forbid("GET /repos/{owner}/{repo}/dependabot/alerts", "vulnerability_alerts=read")
		},
			id: "github.dependabot.alerts", raw: map[string]string{"repos": "acme/api"},
			want: []string{"GET /repos/acme/api/dependabot/alerts: the token from GH_ENTERPRISE_TOKEN may not do this (403", "a fine-grained token needs vulnerability_alerts=read", "a classic token the scope security_events"}},
		{name: "403 actions", setup: func(s *ghtest.Server) { s.Forbid("GET /repos/{owner}/{repo}/actions/workflows", "") },
			id: "github.actions.failed", raw: map[string]string{"repos": "acme/api"},
			want: []string{"GET /repos/acme/api/actions/workflows", "a fine-grained token needs Actions: read, a classic token the scope repo"}},
		{name: "404", id: "github.actions.failed", raw: map[string]string{"repos": "acme/nope"},
			want: []string{"GET /repos/acme/nope: not found (404)", "a fine-grained token needs access to the repository and Metadata: read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p, _ := standin(t, Options{Getenv: env(tc.env)}, acme()...)
			if tc.setup != nil {
				tc.setup(s)
			}
			_, err := runCheck(t, p, s, tc.id, tc.raw)
			if _, skipped := checks.IsSkip(err); err == nil || skipped {
				t.Fatalf("want an error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if tc.hidden != "" && strings.Contains(err.Error(), tc.hidden) {
				t.Error("the error shows the token")
			}
		})
	}
}

func TestSecondaryRateLimitWaitsRetryAfter(t *testing.T) {
	s, p, sl := standin(t, Options{}, acme()...)
	s.SecondaryLimit(1, 3)
	res := must(t)(runCheck(t, p, s, "github.repos.visibility", map[string]string{"repos": "acme/web"}))
	checktest.Expect(t, "visibility", findings(res), "repo/acme/web public info")
	if w := sl.waits(); len(w) != 1 || w[0] != 3*time.Second {
		t.Errorf("waits %v, want one of 3s", w)
	}

	// A Retry-After longer than MaxWait: no wait, an error.
	s.SecondaryLimit(1, 600)
	_, err := runCheck(t, p, s, "github.repos.visibility", map[string]string{"repos": "acme/api"})
	if err == nil || !strings.Contains(err.Error(), "secondary rate limit") {
		t.Errorf("long Retry-After: %v", err)
	}
	// Retries are bounded: a limit that does not lift fails after maxRetries waits.
	s.SecondaryLimit(10, 1)
	_, err = runCheck(t, p, s, "github.repos.visibility", map[string]string{"repos": "acme/lib"})
	if err == nil || len(sl.waits()) != 1+maxRetries {
		t.Errorf("persistent secondary limit: %v after waits %v", err, sl.waits())
	}
}

func TestBacksOffBeforeTheRateLimitRunsOut(t *testing.T) {
	s, p, _ := standin(t, Options{Reserve: 20}, acme()...)
	s.SetRemaining(21)
	_, err := runCheck(t, p, s, "github.actions.failed", map[string]string{"repos": "acme/api"})
	if err == nil || !strings.Contains(err.Error(), "rate limit for this token has 20 requests left until") {
		t.Fatalf("want a rate-limit error, got %v", err)
	}
	if n := s.Stats().Requests; n != 1 {
		t.Errorf("%d requests sent, want 1: the provider should stop at the reserve", n)
	}
}

func TestRecordedTrafficParses(t *testing.T) {
	repoRec, err := ghtest.Find(t, ghtest.Fixture(t, "get-repository"), "GET", "/repos/octokit-fixture-org/hello-world").With(map[string]any{"has_discussions": false})
	if err != nil {
		t.Fatal(err)
	}
	prot := ghtest.Fixture(t, "branch-protection")
	s, p, _ := standin(t, Options{},
		&ghtest.Repo{Owner: "octokit-fixture-org", Name: "hello-world", DefaultBranch: "stand-in"},
		&ghtest.Repo{Owner: "octokit-fixture-org", Name: "branch-protection", DefaultBranch: "main"})
	s.Replay("GET", "/repos/octokit-fixture-org/hello-world", repoRec, 0)
	s.Replay("GET", "/repos/octokit-fixture-org/branch-protection/branches/main/protection", ghtest.Find(t, prot, "GET", "/repos/octokit-fixture-org/branch-protection/branches/main/protection"), 0)

	res := must(t)(runCheck(t, p, s, "github.repos.visibility", map[string]string{"repos": "octokit-fixture-org/hello-world"}))
	checktest.Expect(t, "recorded repository", findings(res), "repo/octokit-fixture-org/hello-world public info")
	if res.Findings[0].Evidence["url"] != "https://github.com/octokit-fixture-org/hello-world" {
		t.Errorf("evidence %v", res.Findings[0].Evidence)
	}
	// The recorded 404 "Branch not protected" is no protection, not an error.
	res = must(t)(runCheck(t, p, s, "github.branches.unprotected", map[string]string{"repos": "octokit-fixture-org/branch-protection"}))
	checktest.Expect(t, "recorded 404", findings(res), "repo/octokit-fixture-org/branch-protection unprotected high")
}
