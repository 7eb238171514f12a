package github

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	gh "github.com/google/go-github/v84/github"
	"golang.org/x/sync/errgroup"

	"github.com/clankerd/clankerd/checks"
)

// Parameters every GitHub check and task takes. host= and api_url= choose where the
// token is sent, so agents may give them only values the operator allows
// (checks.AgentConfigured).
var (
	hostParam = checks.ParamSpec{
		Name: "host", Type: checks.String, FrontMatter: "github_host", Agent: checks.AgentConfigured, Validate: validateHost,
		Doc: "GitHub host: github.com or a GitHub Enterprise Server host (default: GH_HOST, then github.com)",
	}
	apiURLParam = checks.ParamSpec{
		Name: "api_url", Type: checks.URL, FrontMatter: "github_api_url", Agent: checks.AgentConfigured, Validate: validateAPIURL,
		Doc: "API base URL, https (http only on loopback), such as https://ghe.example.com/api/v3/ (default: from host=)",
	}
	reposParam = checks.ParamSpec{
		Name: "repos", Type: checks.List, FrontMatter: "github_repos", Validate: validateRepos,
		Doc: "repositories OWNER/NAME, comma-separated; wins over owner=",
	}
	ownerParam = checks.ParamSpec{
		Name: "owner", Type: checks.String, FrontMatter: "github_owner", Validate: validateOwner,
		Doc: "every non-archived repository of this organization or user (default: the token's own repositories)",
	}
	topicParam = checks.ParamSpec{
		Name: "topic", Type: checks.String, FrontMatter: "github_topic", Validate: validateTopic,
		Doc: "with owner=: only repositories with this topic",
	}
	branchParam = checks.ParamSpec{
		Name: "branch", Type: checks.String, Validate: validateBranch,
		Doc: "branch whose runs count (default: each repository's default branch)",
	}
)

// The character sets of GitHub's names: owners (users and organizations) are up to
// 39 letters, digits and inner hyphens; repositories up to 100 letters, digits, '.',
// '_' and '-'; topics up to 50 lower-case letters, digits and hyphens. The lengths are
// checked apart (bounded): a counted repetition such as {0,251} compiles into one state
// per count, which cost the binary's start 0.9 MB of heap for these few expressions.
var (
	ownerRE    = bounded{39, regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$`)}
	repoNameRE = bounded{100, regexp.MustCompile(`^[A-Za-z0-9._-]+$`)}
	topicRE    = bounded{50, regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)}
	branchRE   = bounded{255, regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)}
	hostRE     = bounded{253, regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$`)}
	portRE     = regexp.MustCompile(`^[0-9]{1,5}$`)
	fileRE     = bounded{255, regexp.MustCompile(`^[A-Za-z0-9._-]+$`)}
)

// bounded is an expression for a text of at most max bytes.
type bounded struct {
	max int
	re  *regexp.Regexp
}

// MatchString reports whether s is at most max bytes long and matches.
func (b bounded) MatchString(s string) bool { return len(s) <= b.max && b.re.MatchString(s) }

func validateOwner(s string) error {
	if !ownerRE.MatchString(s) || strings.Contains(s, "--") {
		return fmt.Errorf("%q is not a GitHub user or organization name (letters, digits and single inner hyphens, up to 39)", s)
	}
	return nil
}

// validateRepo accepts OWNER/NAME.
func validateRepo(s string) error {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || validateOwner(owner) != nil || !repoNameRE.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("%q is not a GitHub repository OWNER/NAME (such as octo-org/api)", s)
	}
	return nil
}

func validateRepos(s string) error {
	var errs []error
	for _, r := range splitList(s) {
		errs = append(errs, validateRepo(r))
	}
	return errors.Join(errs...)
}

func validateTopic(s string) error {
	if !topicRE.MatchString(s) {
		return fmt.Errorf("%q is not a GitHub topic (lower-case letters, digits and hyphens, up to 50)", s)
	}
	return nil
}

// validateBranch accepts the branch names git allows that URLs carry without
// escaping surprises: no "..", no leading or trailing '/', no ".lock" suffix.
func validateBranch(s string) error {
	if !branchRE.MatchString(s) || strings.Contains(s, "..") || strings.Contains(s, "//") ||
		strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.HasPrefix(s, "-") || strings.HasSuffix(s, ".lock") {
		return fmt.Errorf("%q is not a branch name clankerd accepts (letters, digits, '.', '_', '-', '/'; no '..')", s)
	}
	return nil
}

func validateHost(s string) error {
	host, port, hasPort := strings.Cut(s, ":")
	if !hostRE.MatchString(host) || hasPort && !portRE.MatchString(port) {
		return fmt.Errorf("%q is not a host name (such as github.com or ghe.example.com)", s)
	}
	return nil
}

// validateWorkflow accepts a workflow's file name (nightly.yml).
func validateWorkflow(s string) error {
	base, ok := strings.CutSuffix(s, ".yml")
	if !ok {
		base, ok = strings.CutSuffix(s, ".yaml")
	}
	if !ok || !fileRE.MatchString(base) {
		return fmt.Errorf("%q is not a workflow file name such as nightly.yml", s)
	}
	return nil
}

// validateAPIURL accepts an https URL without user info, query or fragment, and http
// only on a loopback address (a local stand-in): the token goes wherever it points.
func validateAPIURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an API base URL such as https://ghe.example.com/api/v3/", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return fmt.Errorf("api_url %q must be https (http is accepted only on a loopback address): the token is sent with every request", s)
}

func splitList(s string) []string {
	return checks.NewParams(map[string]string{"v": s}).List("v")
}

// scopeParams are the parameters that choose repositories.
func scopeParams() []checks.ParamSpec {
	return []checks.ParamSpec{hostParam, apiURLParam, reposParam, ownerParam, topicParam}
}

// spec builds a check spec with the parameters every GitHub check takes.
func spec(id, description, category string, keywords []string, params ...checks.ParamSpec) checks.Spec {
	return checks.Spec{
		ID:          id,
		Description: description,
		Params:      append(scopeParams(), params...),
		Keywords:    append([]string{"github"}, keywords...),
		Categories:  []string{category},
	}
}

// repo is one repository in scope, as the listing or GET /repos has it.
type repo struct {
	owner, name   string
	defaultBranch string
	visibility    string
	private       bool
	archived      bool
	topics        []string
	htmlURL       string
}

func (r repo) full() string { return r.owner + "/" + r.name }

func repoOf(g *gh.Repository) repo {
	vis := g.GetVisibility()
	if vis == "" {
		vis = "public"
		if g.GetPrivate() {
			vis = "private"
		}
	}
	return repo{
		owner: g.GetOwner().GetLogin(), name: g.GetName(), defaultBranch: g.GetDefaultBranch(),
		visibility: vis, private: g.GetPrivate(), archived: g.GetArchived(), topics: g.Topics, htmlURL: g.GetHTMLURL(),
	}
}

// repos resolves the repositories an item covers: repos= (each read with GET /repos),
// else every non-archived repository of owner= (narrowed by topic=), else the token
// user's own. One listing per round, shared by every check.
func (c *client) repos(ctx context.Context, params checks.Params) ([]repo, error) {
	if names := params.List("repos"); len(names) > 0 {
		return fanOut(names, 8, func(full string) (repo, error) {
			owner, name, _ := strings.Cut(full, "/")
			return checks.Memo(ctx, c.memoKey("repo/"+full), func(ctx context.Context) (repo, error) {
				g, _, err := c.gh.Repositories.Get(ctx, owner, name)
				if err != nil {
					return repo{}, c.apiError("GET /repos/"+full, callRepo, err)
				}
				return repoOf(g), nil
			})
		})
	}
	owner := params.Get("owner")
	all, err := checks.Memo(ctx, c.memoKey("repos/"+owner), func(ctx context.Context) ([]repo, error) {
		return c.listRepos(ctx, owner)
	})
	if err != nil {
		return nil, err
	}
	topic := params.Get("topic")
	var out []repo
	for _, r := range all {
		if r.archived || (topic != "" && !slices.Contains(r.topics, topic)) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// listRepos lists an organization's repositories, or a user's when owner is not an
// organization, or the token user's own when owner is "".
func (c *client) listRepos(ctx context.Context, owner string) ([]repo, error) {
	lo := gh.ListOptions{PerPage: 100}
	if owner == "" {
		return collect(c, "GET /user/repos", callRepo, c.gh.Repositories.ListByAuthenticatedUserIter(ctx, &gh.RepositoryListByAuthenticatedUserOptions{Affiliation: "owner", ListOptions: lo}), repoOf)
	}
	out, err := collect(c, "GET /orgs/"+owner+"/repos", callRepo, c.gh.Repositories.ListByOrgIter(ctx, owner, &gh.RepositoryListByOrgOptions{Type: "all", ListOptions: lo}), repoOf)
	if !isNotFound(err) {
		return out, err
	}
	// Not an organization: a user. The token's own user sees its private
	// repositories only through /user/repos.
	me, _, merr := c.gh.Users.Get(ctx, "")
	if merr == nil && strings.EqualFold(me.GetLogin(), owner) {
		return c.listRepos(ctx, "")
	}
	return collect(c, "GET /users/"+owner+"/repos", callRepo, c.gh.Repositories.ListByUserIter(ctx, owner, &gh.RepositoryListByUserOptions{Type: "owner", ListOptions: lo}), repoOf)
}

// collect drains a listing that follows GitHub's Link headers to the end, naming
// the call in its error.
func collect[G any, T any](c *client, call string, perm permission, seq iter.Seq2[G, error], conv func(G) T) ([]T, error) {
	var out []T
	for g, err := range seq {
		if err != nil {
			return nil, c.apiError(call, perm, err)
		}
		out = append(out, conv(g))
	}
	return out, nil
}

// forEachRepo calls fn for every repository in scope, at most Concurrency at a
// time, and gathers the findings sorted. A repository fn cannot read fails the whole
// check, unless fn says the feature is off there (errFeatureOff): those repositories
// are named in the run's evidence.
func (p *Provider) forEachRepo(ctx context.Context, c *client, params checks.Params, fn func(ctx context.Context, r repo) ([]checks.Finding, error)) ([]checks.Finding, []string, error) {
	rs, err := c.repos(ctx, params)
	if err != nil {
		return nil, nil, err
	}
	var mu sync.Mutex
	var off []string
	per, err := fanOut(rs, p.opts.Concurrency, func(r repo) ([]checks.Finding, error) {
		fs, err := fn(ctx, r)
		if errors.Is(err, errFeatureOff) {
			mu.Lock()
			off = append(off, r.full())
			mu.Unlock()
			return nil, nil
		}
		return fs, err
	})
	if err != nil {
		return nil, nil, err
	}
	var out []checks.Finding
	for _, fs := range per {
		out = append(out, fs...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Resource != out[j].Resource {
			return out[i].Resource < out[j].Resource
		}
		return out[i].Problem < out[j].Problem
	})
	sort.Strings(off)
	return out, off, nil
}

// fanOut calls fn for every item, at most limit at a time, and returns the results
// in the order of items, or the first error; after an error no further item starts.
func fanOut[T, R any](items []T, limit int, fn func(T) (R, error)) ([]R, error) {
	out := make([]R, len(items))
	var g errgroup.Group
	g.SetLimit(limit)
	for i, item := range items {
		g.Go(func() (err error) {
			out[i], err = fn(item)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
