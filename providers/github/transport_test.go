package github

import (
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/testenv/checktest"
	"github.com/clankerd/clankerd/internal/testenv/ghtest"
)

// TestCacheIsBoundedAndNegativeAnswersExpire: with room for two answers, a third URL
// evicts the least recently used, whose next read is a full request again; a 404 is
// reused until NegativeTTL passes on the provider's clock.
func TestCacheIsBoundedAndNegativeAnswersExpire(t *testing.T) {
	clock := checktest.NewClock(now)
	repos := []*ghtest.Repo{
		{Owner: "acme", Name: "a", DefaultBranch: "main"},
		{Owner: "acme", Name: "b", DefaultBranch: "main"},
		{Owner: "acme", Name: "c", DefaultBranch: "main"},
	}
	s, p, _ := standin(t, Options{CacheEntries: 2, NegativeTTL: time.Minute, Now: clock.Now}, repos...)
	visibility := func(repo string) {
		t.Helper()
		must(t)(runCheck(t, p, s, "github.repos.visibility", map[string]string{"repos": repo}))
	}
	visibility("acme/a")
	visibility("acme/b")
	visibility("acme/a") // 304: a is kept, and now the most recently used
	visibility("acme/c") // evicts b
	visibility("acme/b") // a full request again
	if st := s.Stats(); st.Requests != 5 || st.NotModified != 1 || st.RateUsed != 4 {
		t.Errorf("stand-in stats %+v, want 5 requests, one 304", st)
	}

	// Branch protection's 404 is kept for a minute (with room for it).
	s, p, _ = standin(t, Options{NegativeTTL: time.Minute, Now: clock.Now}, repos...)
	round := func() { runCheck(t, p, s, "github.branches.unprotected", map[string]string{"repos": "acme/c"}) }
	round()
	before := s.Stats().ByRoute["GET /repos/{owner}/{repo}/branches/{branch}/protection"]
	round()
	if got := s.Stats().ByRoute["GET /repos/{owner}/{repo}/branches/{branch}/protection"]; got != before {
		t.Errorf("the 404 was asked again within NegativeTTL (%d → %d)", before, got)
	}
	clock.Advance(2 * time.Minute)
	round()
	if got := s.Stats().ByRoute["GET /repos/{owner}/{repo}/branches/{branch}/protection"]; got != before+1 {
		t.Errorf("the 404 was not asked again after NegativeTTL (%d → %d)", before, got)
	}
}
