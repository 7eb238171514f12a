package view

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/ratelimit"
)

// TestStatusRateLimits: a line per GitHub API and token, with the requests left, the
// reset time in UTC and the run that saw it; the token's source only where one host
// has two tokens.
func TestStatusRateLimits(t *testing.T) {
	now := time.Date(2026, 12, 3, 6, 10, 0, 0, time.UTC)
	st := NewStatus(control.Status{Database: "db", OpenFindings: map[string]int{}, RateLimits: []ratelimit.RateLimit{
		{Host: "api.github.com", API: "https://api.github.com/", Token: "GH_TOKEN", Limit: 5000, Remaining: 4321,
			Reset: time.Date(2026, 12, 3, 6, 40, 0, 0, time.UTC), Run: 123, At: now.Add(-2 * time.Minute)},
		{Host: "ghe.example.com", API: "https://ghe.example.com/api/v3/", Token: "GH_ENTERPRISE_TOKEN", Limit: 15000, Remaining: 12,
			Reset: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC), Run: 7, At: now.Add(-3 * time.Hour)},
		{Host: "ghe.example.com", API: "https://ghe.example.com/api/v3/", Token: "hosts.yml", Limit: 1000000, Remaining: 999999,
			Reset: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC), Run: 9, At: now},
	}})
	var buf bytes.Buffer
	if err := st.WriteText(&buf, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"github api.github.com: 4,321 of 5,000 requests left, resets 06:40 UTC (as of run 123, 2m ago)\n",
		"github ghe.example.com (token from GH_ENTERPRISE_TOKEN): 12 of 15,000 requests left, resets 07:00 UTC (as of run 7, 3h ago)\n",
		"github ghe.example.com (token from hosts.yml): 999,999 of 1,000,000 requests left, resets 07:00 UTC (as of run 9, just now)\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 4321: "4,321", 5000: "5,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
