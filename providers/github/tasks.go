package github

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/clankerd/clankerd/checks"
)

// task is one GitHub write task. Plan reads live state; Apply re-reads it, refuses
// on drift (the run was re-run, the workflow enabled again), and makes exactly the
// planned change.
type task struct {
	spec  checks.Spec
	p     *Provider
	plan  func(ctx context.Context, c *client, r repo, params checks.Params) (checks.Plan, error)
	apply func(ctx context.Context, c *client, r repo, plan checks.Plan) (checks.Applied, error)
	fix   func(f checks.Finding) (map[string]string, bool)
}

var (
	_ checks.Task       = (*task)(nil)
	_ checks.Remediator = (*task)(nil)
)

func (t *task) Spec() checks.Spec { return t.spec }

func (t *task) target(ctx context.Context, params checks.Params) (*client, repo, error) {
	c, err := t.p.connect(params)
	if err != nil {
		return nil, repo{}, err
	}
	full := params.Get("repo")
	rs, err := c.repos(ctx, checks.NewParams(map[string]string{"repos": full}))
	if err != nil {
		return nil, repo{}, err
	}
	return c, rs[0], nil
}

func (t *task) Plan(ctx context.Context, params checks.Params) (checks.Plan, error) {
	c, r, err := t.target(ctx, params)
	if err != nil {
		return checks.Plan{}, err
	}
	return t.plan(ctx, c, r, params)
}

func (t *task) Apply(ctx context.Context, plan checks.Plan) (checks.Applied, error) {
	c, r, err := t.target(ctx, plan.Params)
	if err != nil {
		return checks.Applied{}, err
	}
	return t.apply(ctx, c, r, plan)
}

func (t *task) FixParams(f checks.Finding) (map[string]string, bool) {
	if t.fix == nil {
		return nil, false
	}
	return t.fix(f)
}

var runIDRE = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)

func validateRunID(s string) error {
	if !runIDRE.MatchString(s) {
		return fmt.Errorf("%q is not a workflow run id (the number in …/actions/runs/ID)", s)
	}
	return nil
}

func (p *Provider) taskList() []checks.Task {
	repoParam := checks.ParamSpec{Name: "repo", Type: checks.String, Required: true, Validate: validateRepo, Doc: "repository OWNER/NAME"}
	taskSpec := func(id, desc string, keywords, verbs []string, params ...checks.ParamSpec) checks.Spec {
		return checks.Spec{ID: id, Description: desc, Params: append([]checks.ParamSpec{hostParam, apiURLParam, repoParam}, params...), Keywords: append([]string{"github"}, keywords...), Verbs: verbs}
	}
	return []checks.Task{
		&task{p: p, plan: p.planRerun, apply: p.applyRerun, fix: fixRerun,
			spec: taskSpec("github.workflow.rerun", "re-run the failed jobs of a workflow run", []string{"rerun", "re-run", "retry", "workflow", "workflow run", "build"}, []string{"rerun", "re-run", "retry"},
				checks.ParamSpec{Name: "run", Type: checks.String, Required: true, Validate: validateRunID, Doc: "workflow run id"})},
		&task{p: p, plan: p.planEnable, apply: p.applyEnable, fix: fixEnable,
			spec: taskSpec("github.workflow.enable", "re-enable a disabled workflow", []string{"enable", "re-enable", "workflow", "disabled", "schedule"}, []string{"enable", "re-enable"},
				checks.ParamSpec{Name: "workflow", Type: checks.String, Required: true, Validate: validateWorkflow, Doc: "workflow file name, such as nightly.yml"})},
	}
}

// fixRerun aims a rerun at a github.actions.failed finding.
func fixRerun(f checks.Finding) (map[string]string, bool) {
	full, _, ok := workflowOf(f.Resource)
	if !ok || f.Problem != "latest_run_failed" || f.Evidence["run_id"] == "" {
		return nil, false
	}
	return map[string]string{"repo": full, "run": f.Evidence["run_id"]}, true
}

// fixEnable aims an enable at a github.actions.disabled finding of a disabled
// workflow.
func fixEnable(f checks.Finding) (map[string]string, bool) {
	full, file, ok := workflowOf(f.Resource)
	if !ok || !strings.HasPrefix(f.Problem, "disabled_") {
		return nil, false
	}
	return map[string]string{"repo": full, "workflow": file}, true
}

// workflowOf splits workflow/OWNER/NAME/FILE.
func workflowOf(resource string) (full, file string, ok bool) {
	parts := strings.Split(resource, "/")
	if len(parts) != 4 || parts[0] != "workflow" {
		return "", "", false
	}
	return parts[1] + "/" + parts[2], parts[3], true
}

// --- re-run failed jobs -----------------------------------------------------------

func (c *client) runState(ctx context.Context, r repo, id int64) (run, error) {
	g, _, err := c.gh.Actions.GetWorkflowRunByID(ctx, r.owner, r.name, id)
	if err != nil {
		return run{}, c.apiError(fmt.Sprintf("GET /repos/%s/actions/runs/%d", r.full(), id), callActions, err)
	}
	return runOf(g), nil
}

func runObserved(x run) map[string]string {
	return map[string]string{"attempt": strconv.Itoa(x.attempt), "status": x.status, "conclusion": x.conclusion, "sha": x.sha}
}

func (p *Provider) planRerun(ctx context.Context, c *client, r repo, params checks.Params) (checks.Plan, error) {
	id, _ := strconv.ParseInt(params.Get("run"), 10, 64)
	x, err := c.runState(ctx, r, id)
	if err != nil {
		return checks.Plan{}, err
	}
	if x.status != "completed" {
		return checks.Plan{}, fmt.Errorf("run %d of %s is %s: wait until it completes", id, r.full(), strings.ReplaceAll(x.status, "_", " "))
	}
	if !failed(x.conclusion) {
		return checks.Plan{}, fmt.Errorf("run %d of %s concluded %s: it has no failed jobs to re-run", id, r.full(), x.conclusion)
	}
	jobs, err := c.failedJobs(ctx, r, id)
	if err != nil {
		return checks.Plan{}, err
	}
	plan := checks.Plan{
		Target:   fmt.Sprintf("run/%s/%d", r.full(), id),
		Observed: runObserved(x),
		Change:   fmt.Sprintf("re-run the failed jobs (%s) of %s run #%d (attempt %d, %s, %.7s) as attempt %d", strings.Join(jobs, ", "), x.name, x.number, x.attempt, x.conclusion, x.sha, x.attempt+1),
		Risk:     checks.RiskLow,
		CostNote: "Actions minutes of the re-run jobs; not estimated",
	}
	plan.RiskReasons = append(plan.RiskReasons, "re-runs jobs at the same commit; nothing else changes")
	if n := deployLike(x.name); n != "" {
		plan.Raise(checks.RiskMedium, fmt.Sprintf("the workflow %q looks like it deploys or publishes: a re-run does it again", n))
	}
	p.lastRuns(ctx, c, r, x, &plan)
	plan.Preconditions = []string{fmt.Sprintf("the run is still at attempt %d, completed with %s (not re-run since)", x.attempt, x.conclusion)}
	return plan, nil
}

// lastRuns lists the workflow's latest runs on the run's branch in the plan, as what
// the person approving should see.
func (p *Provider) lastRuns(ctx context.Context, c *client, r repo, x run, plan *checks.Plan) {
	runs, err := c.workflowRuns(ctx, r, workflow{id: x.workflowID, path: x.name}, x.branch)
	if err != nil {
		plan.Utilization = "last runs unknown: " + err.Error()
		return
	}
	var parts []string
	for i, y := range runs {
		if i == 5 {
			break
		}
		parts = append(parts, fmt.Sprintf("#%d %s %s", y.number, y.created.UTC().Format("2006-01-02 15:04"), outcome(y)))
	}
	plan.Utilization = "last runs on " + x.branch + ": " + strings.Join(parts, "; ")
}

func outcome(x run) string {
	if x.status != "completed" {
		return x.status
	}
	return x.conclusion
}

func deployLike(names ...string) string {
	for _, n := range names {
		l := strings.ToLower(n)
		for _, w := range []string{"deploy", "release", "publish", "prod"} {
			if strings.Contains(l, w) {
				return n
			}
		}
	}
	return ""
}

func (p *Provider) applyRerun(ctx context.Context, c *client, r repo, plan checks.Plan) (checks.Applied, error) {
	id, _ := strconv.ParseInt(plan.Params.Get("run"), 10, 64)
	x, err := c.runState(ctx, r, id)
	if err != nil {
		return checks.Applied{}, err
	}
	if err := checks.CompareObserved(plan.Target, plan.Observed, runObserved(x)); err != nil {
		return checks.Applied{}, err
	}
	if _, err := c.gh.Actions.RerunFailedJobsByID(ctx, r.owner, r.name, id); err != nil {
		return checks.Applied{}, c.apiError(fmt.Sprintf("POST /repos/%s/actions/runs/%d/rerun-failed-jobs", r.full(), id), callActionsW, err)
	}
	return checks.Applied{Summary: fmt.Sprintf("re-ran the failed jobs of run %d of %s", id, r.full()), After: map[string]string{"attempt": strconv.Itoa(x.attempt + 1)}}, nil
}

// --- enable a workflow ----------------------------------------------------------

// workflowByFile finds a workflow by its file name.
func (c *client) workflowByFile(ctx context.Context, r repo, file string) (workflow, bool, error) {
	wfs, err := c.workflows(ctx, r)
	if err != nil {
		return workflow{}, false, err
	}
	for _, w := range wfs {
		if w.file() == file {
			return w, true, nil
		}
	}
	return workflow{}, false, nil
}

func (p *Provider) planEnable(ctx context.Context, c *client, r repo, params checks.Params) (checks.Plan, error) {
	file := params.Get("workflow")
	w, ok, err := c.workflowByFile(ctx, r, file)
	if err != nil {
		return checks.Plan{}, err
	}
	if !ok {
		return checks.Plan{}, fmt.Errorf("%s has no workflow %s; list them with `gh workflow list -a -R %s`", r.full(), file, r.full())
	}
	if w.state == "active" {
		return checks.Plan{}, fmt.Errorf("workflow %s of %s is already enabled; nothing to change", file, r.full())
	}
	plan := checks.Plan{
		Target:   workflowResource(r, w),
		Observed: map[string]string{"state": w.state},
		Change:   fmt.Sprintf("enable workflow %s (%s): state %s → active", w.name, w.path, w.state),
		Risk:     checks.RiskLow,
		CostNote: "Actions minutes of its future runs; not estimated",
	}
	crons, err := c.schedules(ctx, r, w)
	if err == nil && len(crons) > 0 {
		plan.RiskReasons = append(plan.RiskReasons, "its schedule ("+strings.Join(crons, "; ")+") runs again from the next tick")
	}
	if n := deployLike(w.name, w.file()); n != "" {
		plan.Raise(checks.RiskMedium, fmt.Sprintf("the workflow %q looks like it deploys or publishes", n))
	}
	if runs, err := c.workflowRuns(ctx, r, w, r.defaultBranch); err == nil && len(runs) > 0 {
		last := runs[0]
		plan.Utilization = fmt.Sprintf("last run on %s: #%d %s %s", r.defaultBranch, last.number, last.created.UTC().Format("2006-01-02 15:04"), outcome(last))
	} else if err == nil {
		plan.Utilization = "no runs on " + r.defaultBranch
	}
	plan.Preconditions = []string{"the workflow is still " + w.state}
	return plan, nil
}

func (p *Provider) applyEnable(ctx context.Context, c *client, r repo, plan checks.Plan) (checks.Applied, error) {
	w, ok, err := c.workflowByFile(ctx, r, plan.Params.Get("workflow"))
	if err != nil {
		return checks.Applied{}, err
	}
	if !ok {
		return checks.Applied{}, &checks.DriftError{Target: plan.Target, Fields: []checks.Drift{{Field: "state", Planned: plan.Observed["state"]}}}
	}
	if err := checks.CompareObserved(plan.Target, plan.Observed, map[string]string{"state": w.state}); err != nil {
		return checks.Applied{}, err
	}
	if _, err := c.gh.Actions.EnableWorkflowByID(ctx, r.owner, r.name, w.id); err != nil {
		return checks.Applied{}, c.apiError(fmt.Sprintf("PUT /repos/%s/actions/workflows/%d/enable", r.full(), w.id), callActionsW, err)
	}
	return checks.Applied{Summary: fmt.Sprintf("enabled workflow %s of %s", w.file(), r.full()), After: map[string]string{"state": "active"}}, nil
}
