package github

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v84/github"
	"gopkg.in/yaml.v3"

	"github.com/clankerd/clankerd/checks"
)

// Every read below is one paginated listing per resource per repository, shared
// through checks.Memo by every check of the round that needs it; the transport makes
// each conditional, so an unchanged round costs 304s.

// workflow is one Actions workflow of a repository.
type workflow struct {
	id      int64
	name    string
	path    string // .github/workflows/nightly.yml
	state   string // active, disabled_inactivity, disabled_manually, ...
	htmlURL string
	created time.Time
}

// file is the workflow's file name, as resources name it.
func (w workflow) file() string { return path.Base(w.path) }

// run is one workflow run.
type run struct {
	id, workflowID int64
	number         int
	attempt        int
	name           string
	event          string
	status         string
	conclusion     string
	branch         string
	sha            string
	htmlURL        string
	created        time.Time
}

func runOf(g *gh.WorkflowRun) run {
	return run{
		id: g.GetID(), workflowID: g.GetWorkflowID(), number: g.GetRunNumber(), attempt: g.GetRunAttempt(), name: g.GetName(),
		event: g.GetEvent(), status: g.GetStatus(), conclusion: g.GetConclusion(), branch: g.GetHeadBranch(), sha: g.GetHeadSHA(),
		htmlURL: g.GetHTMLURL(), created: g.GetCreatedAt().Time,
	}
}

func (c *client) workflows(ctx context.Context, r repo) ([]workflow, error) {
	return checks.Memo(ctx, c.memoKey("workflows/"+r.full()), func(ctx context.Context) ([]workflow, error) {
		var out []workflow
		opts := &gh.ListOptions{PerPage: 100}
		for {
			page, resp, err := c.gh.Actions.ListWorkflows(ctx, r.owner, r.name, opts)
			if err != nil {
				return nil, c.apiError("GET /repos/"+r.full()+"/actions/workflows", callActions, err)
			}
			for _, w := range page.Workflows {
				out = append(out, workflow{id: w.GetID(), name: w.GetName(), path: w.GetPath(), state: w.GetState(), htmlURL: w.GetHTMLURL(), created: w.GetCreatedAt().Time})
			}
			if resp.NextPage == 0 {
				return out, nil
			}
			opts.Page = resp.NextPage
		}
	})
}

// runsPage is a repository's latest runs on a branch, newest first: one page of up
// to runsPerPage. full says the page was full, so older runs exist.
type runsPage struct {
	runs []run
	full bool
}

// runsPerPage is how many of a repository's latest runs one listing reads.
const runsPerPage = 100

// recentRuns reads the latest runs of a repository on a branch (one page).
func (c *client) recentRuns(ctx context.Context, r repo, branch string) (runsPage, error) {
	return checks.Memo(ctx, c.memoKey("runs/"+r.full()+"/"+branch), func(ctx context.Context) (runsPage, error) {
		page, _, err := c.gh.Actions.ListRepositoryWorkflowRuns(ctx, r.owner, r.name, &gh.ListWorkflowRunsOptions{
			Branch: branch, ExcludePullRequests: true, ListOptions: gh.ListOptions{PerPage: runsPerPage},
		})
		if err != nil {
			return runsPage{}, c.apiError("GET /repos/"+r.full()+"/actions/runs", callActions, err)
		}
		out := runsPage{full: len(page.WorkflowRuns) >= runsPerPage}
		for _, g := range page.WorkflowRuns {
			out.runs = append(out.runs, runOf(g))
		}
		return out, nil
	})
}

// workflowRuns reads the latest runs of one workflow on a branch: for a workflow
// that has none among the repository's latest runs.
func (c *client) workflowRuns(ctx context.Context, r repo, w workflow, branch string) ([]run, error) {
	return checks.Memo(ctx, c.memoKey("runs/"+r.full()+"/"+branch+"/"+strconv.FormatInt(w.id, 10)), func(ctx context.Context) ([]run, error) {
		page, _, err := c.gh.Actions.ListWorkflowRunsByID(ctx, r.owner, r.name, w.id, &gh.ListWorkflowRunsOptions{
			Branch: branch, ExcludePullRequests: true, ListOptions: gh.ListOptions{PerPage: 10},
		})
		if err != nil {
			return nil, c.apiError("GET /repos/"+r.full()+"/actions/workflows/"+w.file()+"/runs", callActions, err)
		}
		var out []run
		for _, g := range page.WorkflowRuns {
			out = append(out, runOf(g))
		}
		return out, nil
	})
}

// runsOf returns a workflow's latest runs on the branch, newest first: from the
// repository's page, or read for the workflow when the page has none of them.
func (c *client) runsOf(ctx context.Context, r repo, w workflow, branch string) ([]run, error) {
	page, err := c.recentRuns(ctx, r, branch)
	if err != nil {
		return nil, err
	}
	var out []run
	for _, x := range page.runs {
		if x.workflowID == w.id {
			out = append(out, x)
		}
	}
	if len(out) > 0 || !page.full {
		return out, nil
	}
	return c.workflowRuns(ctx, r, w, branch)
}

// failedJobs names the jobs of a run's latest attempt that failed, timed out or were
// cancelled.
func (c *client) failedJobs(ctx context.Context, r repo, runID int64) ([]string, error) {
	return checks.Memo(ctx, c.memoKey("jobs/"+r.full()+"/"+strconv.FormatInt(runID, 10)), func(ctx context.Context) ([]string, error) {
		var out []string
		opts := &gh.ListWorkflowJobsOptions{Filter: "latest", ListOptions: gh.ListOptions{PerPage: 100}}
		for j, err := range c.gh.Actions.ListWorkflowJobsIter(ctx, r.owner, r.name, runID, opts) {
			if err != nil {
				return nil, c.apiError("GET /repos/"+r.full()+"/actions/runs/"+strconv.FormatInt(runID, 10)+"/jobs", callActions, err)
			}
			if failed(j.GetConclusion()) {
				out = append(out, j.GetName())
			}
		}
		return out, nil
	})
}

// failed reports whether a run's or job's conclusion is a failure.
func failed(conclusion string) bool {
	switch conclusion {
	case "failure", "timed_out", "cancelled", "startup_failure":
		return true
	}
	return false
}

// schedules reads the cron expressions of a workflow's schedule trigger from its
// file on the default branch; none for a workflow without one.
func (c *client) schedules(ctx context.Context, r repo, w workflow) ([]string, error) {
	return checks.Memo(ctx, c.memoKey("schedule/"+r.full()+"/"+w.path), func(ctx context.Context) ([]string, error) {
		fc, _, _, err := c.gh.Repositories.GetContents(ctx, r.owner, r.name, w.path, &gh.RepositoryContentGetOptions{Ref: r.defaultBranch})
		if err != nil {
			if statusOf(err) == http.StatusNotFound {
				return nil, nil // the file is gone: the workflow has no trigger left
			}
			return nil, c.apiError("GET /repos/"+r.full()+"/contents/"+w.path, callContents, err)
		}
		text, err := fc.GetContent()
		if err != nil {
			return nil, err
		}
		return parseSchedules(text), nil
	})
}

// parseSchedules returns the crons of a workflow file's on.schedule; none when the
// file does not parse or has no schedule.
func parseSchedules(text string) []string {
	var doc struct {
		On yaml.Node `yaml:"on"`
	}
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil || doc.On.Kind != yaml.MappingNode {
		return nil
	}
	var on struct {
		Schedule []struct {
			Cron string `yaml:"cron"`
		} `yaml:"schedule"`
	}
	if err := doc.On.Decode(&on); err != nil {
		return nil
	}
	var out []string
	for _, s := range on.Schedule {
		if s := strings.TrimSpace(s.Cron); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// protection is what guards a branch: branch protection and the rules of rulesets.
type protection struct {
	protected      bool // branch protection exists
	protectReviews int  // approving reviews branch protection requires; -1 when it requires no pull request
	rulesReviews   int  // the most approving reviews a ruleset's pull_request rule requires; -1 when none requires a pull request
	rulesets       []string
}

func (c *client) protection(ctx context.Context, r repo, branch string) (protection, error) {
	return checks.Memo(ctx, c.memoKey("protection/"+r.full()+"/"+branch), func(ctx context.Context) (protection, error) {
		out := protection{protectReviews: -1, rulesReviews: -1}
		p, _, err := c.gh.Repositories.GetBranchProtection(ctx, r.owner, r.name, branch)
		switch {
		case err == nil:
			out.protected = true
			if rv := p.GetRequiredPullRequestReviews(); rv != nil {
				out.protectReviews = rv.RequiredApprovingReviewCount
			}
		case isBranchNotProtected(err):
		default:
			return protection{}, c.apiError("GET /repos/"+r.full()+"/branches/"+branch+"/protection", callProtection, err)
		}
		rules, _, err := c.gh.Repositories.GetRulesForBranch(ctx, r.owner, r.name, branch, &gh.ListOptions{PerPage: 100})
		if err != nil {
			return protection{}, c.apiError("GET /repos/"+r.full()+"/rules/branches/"+branch, callRepo, err)
		}
		for _, pr := range rules.PullRequest {
			out.rulesReviews = max(out.rulesReviews, pr.Parameters.RequiredApprovingReviewCount)
			out.rulesets = append(out.rulesets, strconv.FormatInt(pr.RulesetID, 10))
		}
		return out, nil
	})
}

// isBranchNotProtected reports whether err is GitHub's 404 "Branch not protected".
func isBranchNotProtected(err error) bool {
	var er *gh.ErrorResponse
	return errors.Is(err, gh.ErrBranchNotProtected) ||
		(statusOf(err) == http.StatusNotFound && errors.As(err, &er) && strings.Contains(strings.ToLower(er.Message), "not protected"))
}

// statusOf is the HTTP status of a failed call's answer, or 0.
func statusOf(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}
