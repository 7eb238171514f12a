package ghtest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestValidatorRejectsWhatGitHubWouldNotSend shows the validation has teeth: an
// answer missing a required field, or with a value outside an enum, is refused.
func TestValidatorRejectsWhatGitHubWouldNotSend(t *testing.T) {
	spec := Require(t)
	req, _ := http.NewRequest("GET", "http://stand-in/repos/acme/api/actions/workflows", nil)
	params := map[string]string{"owner": "acme", "repo": "api"}
	h := http.Header{"Content-Type": {"application/json"}}
	for _, body := range []string{
		`{"workflows": []}`, // total_count is required
		`{"total_count": 1, "workflows": [{"id": 1, "node_id": "W", "name": "ci", "path": "ci.yml", "state": "sleeping", "url": "u", "html_url": "u", "badge_url": "u", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}]}`,
	} {
		if err := spec.Validate(req, "/repos/{owner}/{repo}/actions/workflows", params, 200, h, []byte(body)); err == nil {
			t.Errorf("accepted %s", body)
		}
	}
	ok := `{"total_count": 0, "workflows": []}`
	if err := spec.Validate(req, "/repos/{owner}/{repo}/actions/workflows", params, 200, h, []byte(ok)); err != nil {
		t.Errorf("refused %s: %v", ok, err)
	}
}

// TestRecordedTrafficValidates replays the recorded real answers of the endpoints the
// provider reads through the validator: the description and real GitHub agree.
func TestRecordedTrafficValidates(t *testing.T) {
	spec := Require(t)
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	for _, tc := range []struct {
		scenario, method, path, template string
		// later are required fields GitHub added after the recording (2022): the
		// test adds them, and nothing else, before validating.
		later map[string]any
	}{
		{"get-repository", "GET", "/repos/octokit-fixture-org/hello-world", "/repos/{owner}/{repo}", map[string]any{"has_discussions": false}},
		{"branch-protection", "GET", "/repos/octokit-fixture-org/branch-protection/branches/main/protection", "/repos/{owner}/{repo}/branches/{branch}/protection", nil},
	} {
		rec := Find(t, Fixture(t, tc.scenario), tc.method, tc.path)
		rec, err := rec.With(tc.later)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(tc.method, "https://api.github.com"+tc.path, nil)
		params := map[string]string{}
		for i, part := range strings.Split(tc.template, "/") {
			if strings.HasPrefix(part, "{") {
				params[strings.Trim(part, "{}")] = strings.Split(tc.path, "/")[i]
			}
		}
		if err := spec.Validate(req, tc.template, params, rec.Status, h, rec.Response); err != nil {
			t.Errorf("%s %s (%d): %v", tc.method, tc.path, rec.Status, err)
		}
	}
}

// TestStandInAnswers asks each kind of answer of the stand-in once: every one is
// validated (the test's cleanup fails on an invalid one).
func TestStandInAnswers(t *testing.T) {
	s := Start(t, Require(t), Options{}, &Repo{Owner: "acme", Name: "api", DefaultBranch: "main"})
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", s.URL+strings.TrimPrefix(path, "/"), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/repos/acme/api", "wrong"); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code, body := get("/repos/acme/api", Token); code != 200 || !strings.Contains(body, `"default_branch":"main"`) {
		t.Errorf("repo: %d %s", code, body)
	}
	if code, _ := get("/repos/acme/nope", Token); code != 404 {
		t.Errorf("missing repo: %d", code)
	}
	s.SecondaryLimit(1, 3)
	if code, _ := get("/repos/acme/api", Token); code != 403 {
		t.Errorf("secondary limit: %d", code)
	}
}
