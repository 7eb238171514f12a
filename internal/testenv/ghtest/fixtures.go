package ghtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Recorded is one exchange of real GitHub traffic that @octokit/fixtures recorded
// (normalized: ids, dates and the recording organization's names made stable).
type Recorded struct {
	Method   string          `json:"method"`
	Path     string          `json:"path"`
	Status   int             `json:"status"`
	Response json.RawMessage `json:"response"`
	Headers  map[string]any  `json:"headers"`
}

// Fixture returns the recorded exchanges of a scenario of @octokit/fixtures
// ("get-repository", "branch-protection"), installed by scripts/gh-testenv. Without
// it the test skips, or fails under CI=true.
func Fixture(t testing.TB, scenario string) []Recorded {
	t.Helper()
	spec := Require(t)
	file := filepath.Join(spec.dir, "node_modules", "@octokit", "fixtures", "scenarios", "api.github.com", scenario, "normalized-fixture.json")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("@octokit/fixtures scenario %s: %v (run scripts/gh-testenv install)", scenario, err)
	}
	var recs []Recorded
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for i := range recs {
		recs[i].Method = strings.ToUpper(recs[i].Method)
	}
	return recs
}

// Find returns the first exchange with the method and path.
func Find(t testing.TB, recs []Recorded, method, path string) Recorded {
	t.Helper()
	for _, r := range recs {
		if r.Method == method && r.Path == path {
			return r
		}
	}
	t.Fatalf("no recorded %s %s", method, path)
	return Recorded{}
}

// Replay makes the stand-in answer method and path (a path of one of its routes)
// with a recorded answer instead of its own, with status (0: the recorded one). The
// answer is validated like every other.
func (s *Server) Replay(method, path string, rec Recorded, status int) {
	if status == 0 {
		status = rec.Status
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replays == nil {
		s.replays = map[string]replay{}
	}
	s.replays[method+" "+path] = replay{status: status, body: rec.Response}
}

type replay struct {
	status int
	body   json.RawMessage
}

func (r replay) answer() answer {
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		return answer{status: 500, body: map[string]any{"message": fmt.Sprint(err)}}
	}
	return answer{status: r.status, body: v, recorded: true}
}

// With returns the exchange with fields added to its JSON answer: fields GitHub
// added to the API after the recording, which the description now requires.
func (r Recorded) With(fields map[string]any) (Recorded, error) {
	var m map[string]any
	if err := json.Unmarshal(r.Response, &m); err != nil {
		return r, err
	}
	for k, v := range fields {
		if _, ok := m[k]; ok {
			return r, fmt.Errorf("the recording of %s %s has %s already", r.Method, r.Path, k)
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	r.Response = b
	return r, err
}
