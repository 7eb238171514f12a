package ghtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Token is the token the stand-in accepts.
const Token = "ghp_standin0000000000000000000000000000"

// Repo is one repository of the stand-in. Tests change repositories inside
// Server.Change.
type Repo struct {
	Owner, Name   string
	DefaultBranch string
	Private       bool
	Archived      bool
	Topics        []string
	Workflows     []*Workflow
	Runs          []*Run
	// Jobs are the jobs of each run's latest attempt, by run id.
	Jobs       map[int64][]Job
	Dependabot []*DependabotAlert
	Code       []*CodeAlert
	Secret     []*SecretAlert
	// Protection is the default branch's branch protection; nil: not protected.
	Protection *Protection
	// RulesetReviews, when set, is a ruleset's pull_request rule on every branch
	// with that many required approving reviews.
	RulesetReviews *int
	// DependabotOff, CodeScanningOff, SecretScanningOff turn the features off: their
	// alert listings answer as GitHub does for such repositories.
	DependabotOff, CodeScanningOff, SecretScanningOff bool
}

// Workflow is an Actions workflow; Content is its file.
type Workflow struct {
	ID      int64
	Name    string
	Path    string // .github/workflows/FILE
	State   string // active, disabled_inactivity, disabled_manually
	Created time.Time
	Content string
}

// Run is a workflow run.
type Run struct {
	ID, WorkflowID int64
	Number         int
	Attempt        int
	Event          string // push, schedule, workflow_dispatch
	Status         string // completed, in_progress, queued
	Conclusion     string // success, failure, cancelled, timed_out; "" while not completed
	Branch         string
	SHA            string
	Created        time.Time
}

// Job is a job of a run's latest attempt.
type Job struct {
	Name       string
	Conclusion string
}

// DependabotAlert is a Dependabot alert.
type DependabotAlert struct {
	Number                     int
	State                      string // open, dismissed, fixed, auto_dismissed
	Severity                   string // low, medium, high, critical
	Ecosystem, Package, GHSA   string
	Summary, Manifest, Patched string
}

// CodeAlert is a code scanning alert.
type CodeAlert struct {
	Number                    int
	State                     string // open, dismissed, fixed
	SecuritySeverity          string // low, medium, high, critical
	RuleID, Description, Path string
	Line                      int
}

// SecretAlert is a secret scanning alert.
type SecretAlert struct {
	Number     int
	State      string // open, resolved
	SecretType string
	Secret     string
}

// Protection is branch protection; RequiredReviews 0 means it requires no pull
// request review.
type Protection struct {
	RequiredReviews int
}

// Server is the stand-in.
type Server struct {
	// URL is the API base URL, with a trailing slash (api_url=).
	URL  string
	t    testing.TB
	spec *Spec
	srv  *httptest.Server
	mux  *http.ServeMux

	mu    sync.Mutex
	repos []*Repo
	user  string // the token's user
	// Limit and Remaining are the core rate limit; a 304 costs nothing.
	limit, remaining int
	reset            time.Time
	requests         int
	notModified      int
	byRoute          map[string]int
	secondary        int // answers left to refuse with a secondary rate limit
	retryAfter       int
	forbidden        map[string]string // route → X-Accepted-GitHub-Permissions
	invalid          []string
	reruns, enables  int
	replays          map[string]replay
}

// Options configure a stand-in.
type Options struct {
	// User is the token's login (default "octocat").
	User string
	// Limit is the core rate limit per hour (default 5000).
	Limit int
}

// Start starts a stand-in holding repos; it is closed and its responses' validity
// checked when the test ends.
func Start(t testing.TB, spec *Spec, opts Options, repos ...*Repo) *Server {
	t.Helper()
	if opts.User == "" {
		opts.User = "octocat"
	}
	if opts.Limit == 0 {
		opts.Limit = 5000
	}
	s := &Server{t: t, spec: spec, repos: repos, user: opts.User, limit: opts.Limit, remaining: opts.Limit,
		reset: time.Now().Add(time.Hour).Truncate(time.Second), byRoute: map[string]int{}, forbidden: map[string]string{}}
	s.routes()
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL + "/"
	t.Cleanup(func() {
		s.srv.Close()
		for _, msg := range s.Invalid() {
			t.Errorf("stand-in sent a response GitHub's OpenAPI description does not allow: %s", msg)
		}
	})
	return s
}

// Change runs fn with the repositories locked, to change them between rounds.
func (s *Server) Change(fn func(repos []*Repo)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.repos)
}

// AddRepo adds a repository.
func (s *Server) AddRepo(r *Repo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos = append(s.repos, r)
}

// Stats are what the stand-in has answered.
type Stats struct {
	Requests    int
	NotModified int
	// RateUsed is how much of the rate limit the requests cost (304s cost nothing).
	RateUsed int
	ByRoute  map[string]int
	Reruns   int
	Enables  int
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	by := make(map[string]int, len(s.byRoute))
	for k, v := range s.byRoute {
		by[k] = v
	}
	return Stats{Requests: s.requests, NotModified: s.notModified, RateUsed: s.limit - s.remaining, ByRoute: by, Reruns: s.reruns, Enables: s.enables}
}

// Invalid lists the responses that failed validation.
func (s *Server) Invalid() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.invalid)
}

// SecondaryLimit makes the next n requests fail with a secondary rate limit and
// Retry-After: retryAfter seconds.
func (s *Server) SecondaryLimit(n, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secondary, s.retryAfter = n, retryAfter
}

// Forbid makes a route ("GET /repos/{owner}/{repo}/dependabot/alerts") answer 403 as
// for a token without the permission, naming accepted as GitHub does in
// X-Accepted-GitHub-Permissions ("vulnerability_alerts=read").
func (s *Server) Forbid(route, accepted string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden[route] = accepted
}

// SetRemaining sets the rate limit left.
func (s *Server) SetRemaining(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remaining = n
}

func (s *Server) repo(owner, name string) *Repo {
	for _, r := range s.repos {
		if strings.EqualFold(r.Owner, owner) && strings.EqualFold(r.Name, name) {
			return r
		}
	}
	return nil
}

// answer is what a handler returns: a status and a JSON value (nil: no body), and
// the Link header's pages when paginated.
type answer struct {
	status int
	body   any
	link   string
	header map[string]string
	// recorded marks a replayed answer of real traffic: sent as recorded.
	recorded bool
}

type handler func(r *http.Request) answer

// ServeHTTP answers one request as GitHub would, and validates the answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handle registers a route; the template is the OpenAPI path.
func (s *Server) handle(method, template string, h handler) {
	pattern := method + " " + strings.ReplaceAll(template, "{path}", "{path...}")
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, method, template, h)
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, method, template string, h handler) {
	route := method + " " + template
	s.mu.Lock()
	s.requests++
	s.byRoute[route]++
	var a answer
	switch auth := r.Header.Get("Authorization"); {
	case auth != "Bearer "+Token && auth != "token "+Token:
		a = answer{status: 401, body: errorBody("Bad credentials")}
	case s.secondary > 0:
		s.secondary--
		a = answer{status: 403, body: errorBody("You have exceeded a secondary rate limit. Please wait a few minutes before you try again."),
			header: map[string]string{"Retry-After": strconv.Itoa(s.retryAfter)}}
	case forbidden(s.forbidden, route):
		a = answer{status: 403, body: errorBody("Resource not accessible by personal access token")}
		if accepted := s.forbidden[route]; accepted != "" {
			a.header = map[string]string{"X-Accepted-GitHub-Permissions": accepted}
		}
	case s.replays[r.Method+" "+r.URL.Path].status != 0:
		a = s.replays[r.Method+" "+r.URL.Path].answer()
	default:
		a = h(r)
	}
	var body []byte
	if a.body != nil {
		v := a.body
		if a.status < 300 && !a.recorded {
			if full, err := s.spec.Complete(method, template, a.status, v); err == nil {
				v = full
			}
		}
		var err error
		if body, err = json.Marshal(v); err != nil {
			s.mu.Unlock()
			http.Error(w, err.Error(), 500)
			return
		}
	}
	hdr := w.Header()
	etag := ""
	if a.status == 200 {
		sum := sha256.Sum256(body)
		etag = `W/"` + hex.EncodeToString(sum[:12]) + `"`
		hdr.Set("ETag", etag)
	}
	notModified := etag != "" && r.Header.Get("If-None-Match") == etag
	if notModified {
		s.notModified++
		a.status, body = http.StatusNotModified, nil
	} else if a.status != 401 {
		s.remaining = max(s.remaining-1, 0)
	}
	hdr.Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
	hdr.Set("X-RateLimit-Remaining", strconv.Itoa(s.remaining))
	hdr.Set("X-RateLimit-Used", strconv.Itoa(s.limit-s.remaining))
	hdr.Set("X-RateLimit-Reset", strconv.FormatInt(s.reset.Unix(), 10))
	hdr.Set("X-RateLimit-Resource", "core")
	hdr.Set("X-GitHub-Media-Type", "github.v3; format=json")
	for k, v := range a.header {
		hdr.Set(k, v)
	}
	if a.link != "" {
		hdr.Set("Link", a.link)
	}
	if body != nil {
		hdr.Set("Content-Type", "application/json; charset=utf-8")
	}
	params := map[string]string{}
	for _, name := range pathNames(template) {
		params[name] = r.PathValue(name)
	}
	if err := s.spec.Validate(r, template, params, a.status, hdr, body); err != nil {
		s.invalid = append(s.invalid, fmt.Sprintf("%s %s → %d: %v", r.Method, r.URL.RequestURI(), a.status, err))
	}
	s.mu.Unlock()
	w.WriteHeader(a.status)
	w.Write(body)
}

// pathNames are the parameter names of a path template.
func pathNames(template string) []string {
	var out []string
	for _, part := range strings.Split(template, "/") {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			out = append(out, strings.Trim(part, "{}"))
		}
	}
	return out
}

func forbidden(m map[string]string, route string) bool {
	_, ok := m[route]
	return ok
}

func errorBody(msg string) map[string]any {
	return map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest", "status": ""}
}

func notFound() answer { return answer{status: 404, body: errorBody("Not Found")} }

// page cuts items to the request's page (per_page, at most 100, default 30) and
// writes the Link header GitHub sends.
func page[T any](r *http.Request, items []T) ([]T, string) {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	n, _ := strconv.Atoi(q.Get("page"))
	n = max(n, 1)
	last := max((len(items)+per-1)/per, 1)
	lo, hi := min((n-1)*per, len(items)), min(n*per, len(items))
	var links []string
	at := func(p int, rel string) {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		v := r.URL.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("per_page", strconv.Itoa(per))
		u.RawQuery = v.Encode()
		links = append(links, fmt.Sprintf("<%s>; rel=%q", u.String(), rel))
	}
	if n < last {
		at(n+1, "next")
		at(last, "last")
	}
	if n > 1 {
		at(1, "first")
		at(n-1, "prev")
	}
	return items[lo:hi], strings.Join(links, ", ")
}

const stamp = "2006-01-02T15:04:05Z"

func ts(t time.Time) string { return t.UTC().Format(stamp) }

func (s *Server) apiURL(r *http.Request, path string) string { return "http://" + r.Host + path }

func (s *Server) owner(r *http.Request, login string) map[string]any {
	return map[string]any{"login": login, "id": 1, "type": "Organization", "url": s.apiURL(r, "/users/"+login), "html_url": "https://github.com/" + login}
}

func (s *Server) repoJSON(r *http.Request, x *Repo) map[string]any {
	vis := "public"
	if x.Private {
		vis = "private"
	}
	full := x.Owner + "/" + x.Name
	return map[string]any{
		"id": idOf(full), "name": x.Name, "full_name": full, "owner": s.owner(r, x.Owner), "private": x.Private,
		"visibility": vis, "archived": x.Archived, "default_branch": x.DefaultBranch, "topics": append([]string{}, x.Topics...),
		"html_url": "https://github.com/" + full, "url": s.apiURL(r, "/repos/"+full), "fork": false, "description": nil,
	}
}

// idOf is a stable numeric id for a name.
func idOf(name string) int64 {
	sum := sha256.Sum256([]byte(name))
	var n int64
	for _, b := range sum[:6] {
		n = n<<8 | int64(b)
	}
	return n
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.handle("GET", "/user", func(r *http.Request) answer {
		return answer{status: 200, body: map[string]any{"login": s.user, "id": 1, "type": "User"}}
	})
	s.handle("GET", "/repos/{owner}/{repo}", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		if x == nil {
			return notFound()
		}
		return answer{status: 200, body: s.repoJSON(r, x)}
	})
	s.handle("GET", "/orgs/{org}/repos", func(r *http.Request) answer {
		org := r.PathValue("org")
		if strings.EqualFold(org, s.user) {
			return notFound()
		}
		var out []any
		for _, x := range s.repos {
			if strings.EqualFold(x.Owner, org) {
				out = append(out, s.repoJSON(r, x))
			}
		}
		if out == nil {
			return notFound()
		}
		items, link := page(r, out)
		return answer{status: 200, body: items, link: link}
	})
	userRepos := func(r *http.Request, login string) answer {
		out := []any{}
		for _, x := range s.repos {
			if strings.EqualFold(x.Owner, login) {
				out = append(out, s.repoJSON(r, x))
			}
		}
		items, link := page(r, out)
		return answer{status: 200, body: items, link: link}
	}
	s.handle("GET", "/user/repos", func(r *http.Request) answer { return userRepos(r, s.user) })
	s.handle("GET", "/users/{username}/repos", func(r *http.Request) answer { return userRepos(r, r.PathValue("username")) })

	s.handle("GET", "/repos/{owner}/{repo}/actions/workflows", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		if x == nil {
			return notFound()
		}
		var out []any
		for _, w := range x.Workflows {
			out = append(out, s.workflowJSON(r, x, w))
		}
		items, link := page(r, out)
		return answer{status: 200, body: map[string]any{"total_count": len(out), "workflows": orEmpty(items)}, link: link}
	})
	s.handle("GET", "/repos/{owner}/{repo}/actions/runs", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		if x == nil {
			return notFound()
		}
		return s.runsAnswer(r, x, 0)
	})
	s.handle("GET", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		w := workflowOf(x, r.PathValue("workflow_id"))
		if w == nil {
			return notFound()
		}
		return s.runsAnswer(r, x, w.ID)
	})
	s.handle("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		run := runOf(x, r.PathValue("run_id"))
		if run == nil {
			return notFound()
		}
		return answer{status: 200, body: s.runJSON(r, x, run)}
	})
	s.handle("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		run := runOf(x, r.PathValue("run_id"))
		if run == nil {
			return notFound()
		}
		var out []any
		for i, j := range x.Jobs[run.ID] {
			out = append(out, map[string]any{
				"id": run.ID*100 + int64(i), "run_id": run.ID, "name": j.Name, "status": "completed", "conclusion": j.Conclusion,
				"head_sha": run.SHA, "head_branch": run.Branch, "workflow_name": "", "run_attempt": run.Attempt,
				"started_at": ts(run.Created), "completed_at": ts(run.Created.Add(time.Minute)), "created_at": ts(run.Created),
				"labels": []string{"ubuntu-latest"}, "runner_id": nil, "runner_name": nil, "runner_group_id": nil, "runner_group_name": nil,
				"html_url": fmt.Sprintf("https://github.com/%s/%s/actions/runs/%d/job/%d", x.Owner, x.Name, run.ID, run.ID*100+int64(i)),
			})
		}
		items, link := page(r, out)
		return answer{status: 200, body: map[string]any{"total_count": len(out), "jobs": orEmpty(items)}, link: link}
	})
	s.handle("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		run := runOf(x, r.PathValue("run_id"))
		if run == nil {
			return notFound()
		}
		run.Attempt++
		run.Status, run.Conclusion = "queued", ""
		s.reruns++
		return answer{status: 201, body: map[string]any{}}
	})
	s.handle("PUT", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/enable", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		w := workflowOf(x, r.PathValue("workflow_id"))
		if w == nil {
			return notFound()
		}
		w.State = "active"
		s.enables++
		return answer{status: 204}
	})
	s.handle("GET", "/repos/{owner}/{repo}/contents/{path}", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		if x == nil {
			return notFound()
		}
		p := r.PathValue("path")
		for _, w := range x.Workflows {
			if w.Path == p {
				full := x.Owner + "/" + x.Name
				self := s.apiURL(r, "/repos/"+full+"/contents/"+p)
				return answer{status: 200, body: map[string]any{
					"type": "file", "encoding": "base64", "size": len(w.Content), "name": p[strings.LastIndex(p, "/")+1:], "path": p,
					"content": base64.StdEncoding.EncodeToString([]byte(w.Content)), "sha": fmt.Sprintf("%040x", idOf(w.Content)),
					"url": self, "git_url": nil, "html_url": nil, "download_url": nil,
					"_links": map[string]any{"self": self, "git": nil, "html": nil},
				}}
			}
		}
		return notFound()
	})
	s.handle("GET", "/repos/{owner}/{repo}/dependabot/alerts", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		if x == nil {
			return notFound()
		}
		if x.DependabotOff {
			return answer{status: 403, body: errorBody("Dependabot alerts are disabled for this repository.")}
		}
		out := []any{}
		for _, a := range x.Dependabot {
			if st := r.URL.Query().Get("state"); st != "" && st != a.State {
				continue
			}
			out = append(out, s.dependabotJSON(r, x, a))
		}
		items, link := page(r, out)
		return answer{status: 200, body: orEmpty(items), link: link}
	})
	s.handle("GET", "/repos/{owner}/{repo}/code-scanning/alerts", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		if x == nil {
			return notFound()
		}
		if x.CodeScanningOff {
			return answer{status: 404, body: errorBody("no analysis found")}
		}
		out := []any{}
		for _, a := range x.Code {
			if st := r.URL.Query().Get("state"); st != "" && st != a.State {
				continue
			}
			out = append(out, map[string]any{
				"number": a.Number, "state": a.State, "created_at": ts(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
				"url":           s.apiURL(r, fmt.Sprintf("/repos/%s/%s/code-scanning/alerts/%d", x.Owner, x.Name, a.Number)),
				"html_url":      fmt.Sprintf("https://github.com/%s/%s/security/code-scanning/%d", x.Owner, x.Name, a.Number),
				"instances_url": s.apiURL(r, fmt.Sprintf("/repos/%s/%s/code-scanning/alerts/%d/instances", x.Owner, x.Name, a.Number)),
				"dismissed_by":  nil, "dismissed_at": nil, "dismissed_reason": nil,
				"rule": map[string]any{"id": a.RuleID, "severity": "error", "security_severity_level": a.SecuritySeverity, "description": a.Description},
				"tool": map[string]any{"name": "CodeQL", "version": "2.20.0"},
				"most_recent_instance": map[string]any{"ref": "refs/heads/" + x.DefaultBranch, "state": a.State,
					"location": map[string]any{"path": a.Path, "start_line": a.Line, "end_line": a.Line, "start_column": 1, "end_column": 2}},
			})
		}
		items, link := page(r, out)
		return answer{status: 200, body: orEmpty(items), link: link}
	})
	s.handle("GET", "/repos/{owner}/{repo}/secret-scanning/alerts", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		if x == nil || x.SecretScanningOff {
			return answer{status: 404, body: errorBody("Secret scanning is disabled on this repository.")}
		}
		out := []any{}
		for _, a := range x.Secret {
			if st := r.URL.Query().Get("state"); st != "" && st != a.State {
				continue
			}
			out = append(out, map[string]any{
				"number": a.Number, "state": a.State, "created_at": ts(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
				"url":         s.apiURL(r, fmt.Sprintf("/repos/%s/%s/secret-scanning/alerts/%d", x.Owner, x.Name, a.Number)),
				"html_url":    fmt.Sprintf("https://github.com/%s/%s/security/secret-scanning/%d", x.Owner, x.Name, a.Number),
				"secret_type": a.SecretType, "secret_type_display_name": strings.ToUpper(a.SecretType[:1]) + a.SecretType[1:], "secret": a.Secret,
				"resolution": nil, "resolved_at": nil, "resolved_by": nil, "validity": "unknown", "publicly_leaked": false,
			})
		}
		items, link := page(r, out)
		return answer{status: 200, body: orEmpty(items), link: link}
	})
	s.handle("GET", "/repos/{owner}/{repo}/branches/{branch}/protection", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		if x == nil {
			return notFound()
		}
		if x.Protection == nil || r.PathValue("branch") != x.DefaultBranch {
			return answer{status: 404, body: errorBody("Branch not protected")}
		}
		full := x.Owner + "/" + x.Name
		self := s.apiURL(r, "/repos/"+full+"/branches/"+x.DefaultBranch+"/protection")
		body := map[string]any{"url": self, "enforce_admins": map[string]any{"url": self + "/enforce_admins", "enabled": false}}
		if x.Protection.RequiredReviews > 0 {
			body["required_pull_request_reviews"] = map[string]any{"url": self + "/required_pull_request_reviews",
				"dismiss_stale_reviews": false, "require_code_owner_reviews": false, "required_approving_review_count": x.Protection.RequiredReviews}
		}
		return answer{status: 200, body: body}
	})
	s.handle("GET", "/repos/{owner}/{repo}/rules/branches/{branch}", func(r *http.Request) answer {
		x := s.repo(r.PathValue("owner"), r.PathValue("repo"))
		if x == nil {
			return notFound()
		}
		out := []any{}
		if x.RulesetReviews != nil {
			out = append(out, map[string]any{"type": "pull_request", "ruleset_source_type": "Repository", "ruleset_source": x.Owner + "/" + x.Name, "ruleset_id": 42,
				"parameters": map[string]any{"required_approving_review_count": *x.RulesetReviews, "dismiss_stale_reviews_on_push": false,
					"require_code_owner_review": false, "require_last_push_approval": false, "required_review_thread_resolution": false}})
		}
		items, link := page(r, out)
		return answer{status: 200, body: orEmpty(items), link: link}
	})
}

func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func workflowOf(x *Repo, id string) *Workflow {
	if x == nil {
		return nil
	}
	for _, w := range x.Workflows {
		if strconv.FormatInt(w.ID, 10) == id || strings.HasSuffix(w.Path, "/"+id) {
			return w
		}
	}
	return nil
}

func runOf(x *Repo, id string) *Run {
	if x == nil {
		return nil
	}
	for _, run := range x.Runs {
		if strconv.FormatInt(run.ID, 10) == id {
			return run
		}
	}
	return nil
}

func (s *Server) workflowJSON(r *http.Request, x *Repo, w *Workflow) map[string]any {
	full := x.Owner + "/" + x.Name
	return map[string]any{
		"id": w.ID, "node_id": "W_" + strconv.FormatInt(w.ID, 10), "name": w.Name, "path": w.Path, "state": w.State,
		"created_at": ts(w.Created), "updated_at": ts(w.Created),
		"url":       s.apiURL(r, fmt.Sprintf("/repos/%s/actions/workflows/%d", full, w.ID)),
		"html_url":  "https://github.com/" + full + "/blob/" + x.DefaultBranch + "/" + w.Path,
		"badge_url": "https://github.com/" + full + "/workflows/" + w.Name + "/badge.svg",
	}
}

// runsAnswer lists runs newest first, narrowed by the branch, event and status
// query parameters and by workflow (0: every workflow).
func (s *Server) runsAnswer(r *http.Request, x *Repo, workflowID int64) answer {
	q := r.URL.Query()
	runs := slices.Clone(x.Runs)
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Created.After(runs[j].Created) })
	var out []any
	for _, run := range runs {
		if (workflowID != 0 && run.WorkflowID != workflowID) || (q.Get("branch") != "" && q.Get("branch") != run.Branch) ||
			(q.Get("event") != "" && q.Get("event") != run.Event) {
			continue
		}
		out = append(out, s.runJSON(r, x, run))
	}
	items, link := page(r, out)
	return answer{status: 200, body: map[string]any{"total_count": len(out), "workflow_runs": orEmpty(items)}, link: link}
}

func (s *Server) runJSON(r *http.Request, x *Repo, run *Run) map[string]any {
	full := x.Owner + "/" + x.Name
	var conclusion any
	if run.Conclusion != "" {
		conclusion = run.Conclusion
	}
	name, path := "", ""
	for _, w := range x.Workflows {
		if w.ID == run.WorkflowID {
			name, path = w.Name, w.Path
		}
	}
	self := s.apiURL(r, fmt.Sprintf("/repos/%s/actions/runs/%d", full, run.ID))
	repo := s.repoJSON(r, x)
	return map[string]any{
		"id": run.ID, "name": name, "node_id": "WR_" + strconv.FormatInt(run.ID, 10), "head_branch": run.Branch, "head_sha": run.SHA,
		"path": path, "display_title": name, "run_number": run.Number, "run_attempt": run.Attempt, "event": run.Event,
		"status": run.Status, "conclusion": conclusion, "workflow_id": run.WorkflowID,
		"url": self, "html_url": fmt.Sprintf("https://github.com/%s/actions/runs/%d", full, run.ID),
		"jobs_url": self + "/jobs", "logs_url": self + "/logs", "check_suite_url": self + "/check-suite", "cancel_url": self + "/cancel",
		"rerun_url": self + "/rerun", "artifacts_url": self + "/artifacts", "workflow_url": s.apiURL(r, fmt.Sprintf("/repos/%s/actions/workflows/%d", full, run.WorkflowID)),
		"pull_requests": []any{}, "created_at": ts(run.Created), "updated_at": ts(run.Created.Add(5 * time.Minute)),
		"run_started_at": ts(run.Created),
		"head_commit":    map[string]any{"id": run.SHA, "tree_id": run.SHA, "message": "change", "timestamp": ts(run.Created), "author": nil, "committer": nil},
		"repository":     repo, "head_repository": repo,
	}
}

func (s *Server) dependabotJSON(r *http.Request, x *Repo, a *DependabotAlert) map[string]any {
	full := x.Owner + "/" + x.Name
	var patched any
	if a.Patched != "" {
		patched = map[string]any{"identifier": a.Patched}
	}
	pkg := map[string]any{"ecosystem": a.Ecosystem, "name": a.Package}
	vuln := map[string]any{"package": pkg, "severity": a.Severity, "vulnerable_version_range": "< " + a.Patched, "first_patched_version": patched}
	return map[string]any{
		"number": a.Number, "state": a.State,
		"dependency": map[string]any{"package": pkg, "manifest_path": a.Manifest, "scope": "runtime"},
		"security_advisory": map[string]any{
			"ghsa_id": a.GHSA, "cve_id": nil, "summary": a.Summary, "description": a.Summary, "severity": a.Severity,
			"vulnerabilities": []any{vuln}, "identifiers": []any{map[string]any{"type": "GHSA", "value": a.GHSA}}, "references": []any{},
			"cvss": map[string]any{"score": 7.5, "vector_string": nil}, "cwes": []any{},
			"published_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "withdrawn_at": nil,
		},
		"security_vulnerability": vuln,
		"url":                    s.apiURL(r, fmt.Sprintf("/repos/%s/dependabot/alerts/%d", full, a.Number)),
		"html_url":               fmt.Sprintf("https://github.com/%s/security/dependabot/%d", full, a.Number),
		"created_at":             "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
		"dismissed_at": nil, "dismissed_by": nil, "dismissed_reason": nil, "dismissed_comment": nil, "fixed_at": nil,
	}
}
