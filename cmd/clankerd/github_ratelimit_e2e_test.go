//go:build !clankerd_nogithub

package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/testenv/ghtest"
)

// TestGitHubRateLimitInStatusAndMetrics: after a check against the stand-in,
// `status` (without a daemon, then through one) shows the rate limit left as the
// run saw it, and the daemon's /metrics has it as gauges by host.
func TestGitHubRateLimitInStatusAndMetrics(t *testing.T) {
	s := githubOrg(t)
	s.SetRemaining(4400)
	envs := []string{"GH_CONFIG_DIR=" + t.TempDir(), "GH_TOKEN=", "GITHUB_TOKEN=", "GH_ENTERPRISE_TOKEN=" + ghtest.Token, "GITHUB_ENTERPRISE_TOKEN=", "GH_HOST="}
	host := strings.TrimSuffix(strings.TrimPrefix(s.URL, "http://"), "/")

	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("---\ngithub_owner: acme\ngithub_api_url: %s\n---\n## Hourly\n- `github.repos.visibility`\n", s.URL))
	if r := cliEnv(t, envs, state, "check", hb); r.code != 0 {
		t.Fatalf("check: %+v", r)
	}
	left := 5000 - s.Stats().RateUsed

	type limits struct {
		RateLimits []struct {
			Host, API, Token, Check string
			Limit, Remaining        int
			Reset, At               time.Time
			Run                     uint64
		} `json:"rate_limits"`
	}
	status := func() limits {
		t.Helper()
		r := cliEnv(t, envs, state, "status", "-o", "json")
		var out limits
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.RateLimits) != 1 {
			t.Fatalf("status -o json: %+v", r)
		}
		return out
	}
	rl := status().RateLimits[0]
	if rl.Host != host || rl.API != s.URL || rl.Token != "GH_ENTERPRISE_TOKEN" || rl.Limit != 5000 || rl.Remaining != left ||
		rl.Check != "github.repos.visibility" || rl.Run == 0 || time.Until(rl.Reset) <= 0 || time.Until(rl.Reset) > time.Hour {
		t.Errorf("status rate limit = %+v, want %d left on %s", rl, left, host)
	}
	want := fmt.Sprintf("github %s: %d,%03d of 5,000 requests left, resets %s (as of run %d, just now)\n",
		host, left/1000, left%1000, rl.Reset.UTC().Format("15:04 UTC"), rl.Run)
	if r := cliEnv(t, envs, state, "status"); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("status lacks %q:\n%+v", want, r)
	}
	if r := cliEnv(t, envs, state, "status", "-o", "json"); strings.Contains(r.stdout, ghtest.Token) {
		t.Error("status shows the token")
	}

	addr := closedPort(t)
	d := startDaemonEnv(t, envs, state, "--heartbeat", hb, "--metrics-listen", addr)
	if got := status().RateLimits[0]; got.Host != host || got.Limit != 5000 {
		t.Errorf("status through the daemon: %+v", got)
	}
	labels := map[string]string{"host": host, "token": "GH_ENTERPRISE_TOKEN"}
	var remaining, limit, reset float64
	waitFor(t, 20*time.Second, "the rate limit in the metrics", func() bool {
		fams := scrapeMetrics(t, addr)
		var ok1, ok2, ok3 bool
		remaining, ok1 = sample(fams, "clankerd_github_rate_limit_remaining", labels)
		limit, ok2 = sample(fams, "clankerd_github_rate_limit", labels)
		reset, ok3 = sample(fams, "clankerd_github_rate_limit_reset_timestamp_seconds", labels)
		return ok1 && ok2 && ok3
	})
	// The daemon may have run the item again since: never more left than the check saw.
	if limit != 5000 || remaining <= 0 || remaining > float64(left) || int64(reset) != rl.Reset.Unix() {
		t.Errorf("metrics: remaining %v, limit %v, reset %v; want at most %d of 5000, reset %d", remaining, limit, reset, left, rl.Reset.Unix())
	}
	d.stop(t, syscall.SIGTERM, 20*time.Second)
}
