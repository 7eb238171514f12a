//go:build !clankerd_nogithub

package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/clankerd/clankerd/internal/testenv/ghtest"
)

// TestGitHubScanScope: `scan --provider github` takes the GitHub scope as flags:
// --owner, --owner with --topic, and --repos each reach exactly their repositories,
// found by the public-repository check.
func TestGitHubScanScope(t *testing.T) {
	s := ghtest.Start(t, ghtest.Require(t), ghtest.Options{},
		&ghtest.Repo{Owner: "acme", Name: "api", DefaultBranch: "main", Topics: []string{"prod"}},
		&ghtest.Repo{Owner: "acme", Name: "web", DefaultBranch: "main"},
		&ghtest.Repo{Owner: "other", Name: "tool", DefaultBranch: "main"},
	)
	envs := []string{"GH_CONFIG_DIR=" + t.TempDir(), "GH_TOKEN=", "GITHUB_TOKEN=", "GH_ENTERPRISE_TOKEN=" + ghtest.Token, "GITHUB_ENTERPRISE_TOKEN=", "GH_HOST="}
	state := t.TempDir()
	for _, tc := range []struct {
		name  string
		flags []string
		want  []string
	}{
		{"owner", []string{"--owner", "acme"}, []string{"repo/acme/api", "repo/acme/web"}},
		{"topic", []string{"--owner", "acme", "--topic", "prod"}, []string{"repo/acme/api"}},
		{"repos", []string{"--repos", "other/tool,acme/web"}, []string{"repo/acme/web", "repo/other/tool"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"scan", "--provider", "github", "--api-url", s.URL, "-o", "json"}, tc.flags...)
			r := cliEnv(t, envs, state, args...)
			var out checkOutput
			if r.code != 1 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Results) != 7 {
				t.Fatalf("scan %v: exit %d\n%s\n%s", tc.flags, r.code, r.stdout, r.stderr)
			}
			var public []string
			for _, res := range out.Results {
				if res.Status == "error" || res.Status == "skipped" {
					t.Errorf("%s: %s %s", res.Check, res.Status, res.Error)
				}
				if res.Check != "github.repos.visibility" {
					continue
				}
				for _, f := range res.Findings {
					public = append(public, f.Resource)
				}
			}
			slices.Sort(public)
			if !slices.Equal(public, tc.want) {
				t.Errorf("public repositories = %v, want %v", public, tc.want)
			}
		})
	}

	r := cliEnv(t, envs, state, "scan", "--help")
	for _, want := range []string{"--owner", "--repos", "--topic", "--api-url", "GitHub token"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("scan --help lacks %q:\n%s", want, r.stdout)
		}
	}
}
