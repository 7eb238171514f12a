package github

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/testenv/checktest"
)

func TestParseSchedules(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{nightlyYAML, []string{"0 2 * * *"}},
		{certsYAML, []string{"0 3 * * *"}},
		{"on:\n  schedule:\n    - cron: '0 1 * * *'\n    - cron: \"*/15 * * * 1-5\"\n", []string{"0 1 * * *", "*/15 * * * 1-5"}},
		{pushYAML, nil},
		{"on: schedule\n", nil},
		{"name: [unclosed\n", nil},
		{"jobs: {}\n", nil},
	} {
		if got := parseSchedules(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestNextRun(t *testing.T) {
	at := time.Date(2026, 3, 4, 1, 0, 0, 0, time.UTC)
	got, ok := nextRun([]string{"0 2 * * *", "30 1 * * *", "not a cron"}, at)
	if !ok || !got.Equal(time.Date(2026, 3, 4, 1, 30, 0, 0, time.UTC)) {
		t.Errorf("next = %v %v", got, ok)
	}
	if _, ok := nextRun([]string{"bogus"}, at); ok {
		t.Error("a bad cron has a next run")
	}
}

func TestFindToken(t *testing.T) {
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts.yml")
	if err := os.WriteFile(hosts, []byte("github.com:\n    user: alice\n    users:\n        alice:\n            oauth_token: gho_fromusers\n    git_protocol: https\nghe.example.com:\n    oauth_token: gho_enterprise\n    user: bob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, host string
		env        map[string]string
		token      string
		source     string
	}{
		{"GH_TOKEN first", "github.com", map[string]string{"GH_TOKEN": "a", "GITHUB_TOKEN": "b", "GH_CONFIG_DIR": dir}, "a", "GH_TOKEN"},
		{"then GITHUB_TOKEN", "github.com", map[string]string{"GITHUB_TOKEN": "b", "GH_CONFIG_DIR": dir}, "b", "GITHUB_TOKEN"},
		{"then gh's users", "github.com", map[string]string{"GH_CONFIG_DIR": dir}, "gho_fromusers", hosts},
		{"enterprise host", "ghe.example.com", map[string]string{"GH_TOKEN": "a", "GH_CONFIG_DIR": dir}, "gho_enterprise", hosts},
		{"enterprise env", "ghe.example.com", map[string]string{"GH_ENTERPRISE_TOKEN": "e", "GH_CONFIG_DIR": dir}, "e", "GH_ENTERPRISE_TOKEN"},
		{"XDG", "github.com", map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "none")}, "", ""},
		{"unknown host", "other.example.com", map[string]string{"GH_CONFIG_DIR": dir}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, source, err := findToken(func(k string) string { return tc.env[k] }, tc.host)
			if err != nil || tok != tc.token || source != tc.source {
				t.Errorf("token %q from %q, %v; want %q from %q", tok, source, err, tc.token, tc.source)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		fn   func(string) error
		good []string
		bad  []string
	}{
		{validateAPIURL, []string{"https://api.github.com/", "https://ghe.example.com/api/v3", "http://127.0.0.1:8080/", "http://localhost:1/", "http://[::1]:9/"},
			[]string{"http://ghe.example.com/api/v3/", "ftp://x/", "https://user:pw@ghe.example.com/", "https://ghe.example.com/?x=1", "/api"}},
		{validateRepos, []string{"acme/api", "acme/api,Octo-Org/my.repo_1", "acme/" + strings.Repeat("r", 100)}, []string{"acme", "acme/..", "-acme/api", "acme/a b", "acme/api/x", "a--b/c", "acme/" + strings.Repeat("r", 101)}},
		{validateOwner, []string{"acme", "a", "octo-org", strings.Repeat("a", 39)}, []string{"-acme", "acme-", "a_b", strings.Repeat("a", 40)}},
		{validateBranch, []string{"main", "release/1.2", "feature-x"}, []string{"a..b", "/main", "main/", "x.lock", "-x", "a b"}},
		{validateHost, []string{"github.com", "ghe.example.com", "ghe.example.com:8443", strings.Repeat("h", 253), strings.Repeat("h", 253) + ":1"}, []string{"ghe.example.com/x", "-bad", "a b", "ghe.example.com:", "ghe.example.com:123456", "ghe.example.com:80:80", "bad-:80", strings.Repeat("h", 254)}},
		{validateWorkflow, []string{"nightly.yml", "ci.yaml", strings.Repeat("w", 255) + ".yml"}, []string{"../x.yml", "nightly", ".github/workflows/x.yml", ".yml", strings.Repeat("w", 256) + ".yaml"}},
	} {
		for _, g := range tc.good {
			if err := tc.fn(g); err != nil {
				t.Errorf("%q refused: %v", g, err)
			}
		}
		for _, b := range tc.bad {
			if tc.fn(b) == nil {
				t.Errorf("%q accepted", b)
			}
		}
	}
}

func TestExtract(t *testing.T) {
	x := checktest.NewExtractions(t, New(Options{}))
	x.Expect("is ci red on acme/api and acme/web?", "github.actions.failed", nil, "repos=acme/api,acme/web from the question")
	x.Expect("did the build fail on branch release/2?", "github.actions.failed", nil, "branch=release/2 from the question")
	x.Expect("dependabot alerts in org acme", "github.dependabot.alerts", nil, "owner=acme from the question")
	x.Expect("rerun run 123456789 of acme/api", "github.workflow.rerun", nil, "run=123456789 from the question", "repo=acme/api from the question")
	x.Expect("enable nightly.yml in acme/api", "github.workflow.enable", nil, "workflow=nightly.yml from the question", "repo=acme/api from the question")
	x.Expect("scale shop/api to 3", "", nil)
}
