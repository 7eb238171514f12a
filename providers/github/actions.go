package github

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/clankerd/clankerd/checks"
)

// workflowResource names a workflow: workflow/OWNER/NAME/FILE.
func workflowResource(r repo, w workflow) string { return "workflow/" + r.full() + "/" + w.file() }

// latestCompleted is the newest completed run of runs (newest first), and whether
// there is one. A run still queued or in progress does not decide yet.
func latestCompleted(runs []run) (run, bool) {
	for _, x := range runs {
		if x.status == "completed" {
			return x, true
		}
	}
	return run{}, false
}

// actionsFailed reports active workflows whose latest completed run on the branch
// concluded failure, timed out or was cancelled. A failed run that a later run
// superseded with a success is history, not a finding.
func (p *Provider) actionsFailed(ctx context.Context, c *client, params checks.Params) ([]checks.Finding, []string, error) {
	return p.forEachRepo(ctx, c, params, func(ctx context.Context, r repo) ([]checks.Finding, error) {
		branch := params.Get("branch")
		if branch == "" {
			branch = r.defaultBranch
		}
		wfs, err := c.workflows(ctx, r)
		if err != nil {
			return nil, err
		}
		var out []checks.Finding
		for _, w := range wfs {
			if w.state != "active" {
				continue // github.actions.disabled reports disabled ones
			}
			runs, err := c.runsOf(ctx, r, w, branch)
			if err != nil {
				return nil, err
			}
			last, ok := latestCompleted(runs)
			if !ok || !failed(last.conclusion) {
				continue
			}
			jobs, err := c.failedJobs(ctx, r, last.id)
			if err != nil {
				return nil, err
			}
			sev, kind := checks.Medium, "run"
			if last.event == "schedule" {
				sev, kind = checks.High, "scheduled run"
			}
			ev := map[string]string{
				"run_id": strconv.FormatInt(last.id, 10), "run_url": last.htmlURL, "conclusion": last.conclusion,
				"event": last.event, "branch": branch, "attempt": strconv.Itoa(last.attempt), "sha": last.sha,
			}
			summary := fmt.Sprintf("%s of %s in %s on %s: #%d %s", kind, w.name, r.full(), branch, last.number, strings.ReplaceAll(last.conclusion, "_", " "))
			if len(jobs) > 0 {
				ev["failed_jobs"] = strings.Join(jobs, ", ")
				summary += " (" + strings.Join(jobs, ", ") + ")"
			}
			out = append(out, checks.Finding{
				Resource: workflowResource(r, w), Problem: "latest_run_failed", Severity: sev, Summary: summary, Evidence: ev,
				Fix: fmt.Sprintf("read the run's log at %s; once fixed, re-run its failed jobs (clankerd task github.workflow.rerun repo=%s run=%d, or `gh run rerun %d --failed -R %s`)", last.htmlURL, r.full(), last.id, last.id, r.full()),
			})
		}
		return out, nil
	})
}

// actionsDisabled reports scheduled workflows that are disabled (after 60 days
// without repository activity, or by hand) and active scheduled workflows whose last
// run on the default branch is further back than their schedule allows plus late=.
// A disabled workflow without a schedule is quiet: nothing was meant to run.
func (p *Provider) actionsDisabled(ctx context.Context, c *client, params checks.Params) ([]checks.Finding, []string, error) {
	late := params.Duration("late")
	now := p.now()
	return p.forEachRepo(ctx, c, params, func(ctx context.Context, r repo) ([]checks.Finding, error) {
		wfs, err := c.workflows(ctx, r)
		if err != nil {
			return nil, err
		}
		var out []checks.Finding
		for _, w := range wfs {
			if w.state != "active" && w.state != "disabled_inactivity" && w.state != "disabled_manually" {
				continue // deleted, or disabled by a fork policy
			}
			crons, err := c.schedules(ctx, r, w)
			if err != nil {
				return nil, err
			}
			if len(crons) == 0 {
				continue
			}
			res := workflowResource(r, w)
			ev := map[string]string{"schedule": strings.Join(crons, "; "), "state": w.state, "url": w.htmlURL}
			switch w.state {
			case "disabled_inactivity":
				out = append(out, checks.Finding{Resource: res, Problem: "disabled_inactivity", Severity: checks.High, Evidence: ev,
					Summary: fmt.Sprintf("scheduled workflow %s in %s was disabled by GitHub after 60 days without repository activity; its schedule (%s) no longer runs", w.name, r.full(), ev["schedule"]),
					Fix:     fmt.Sprintf("re-enable it (clankerd task github.workflow.enable repo=%s workflow=%s, or `gh workflow enable %s -R %s`)", r.full(), w.file(), w.file(), r.full())})
				continue
			case "disabled_manually":
				out = append(out, checks.Finding{Resource: res, Problem: "disabled_manually", Severity: checks.Medium, Evidence: ev,
					Summary: fmt.Sprintf("scheduled workflow %s in %s is disabled; its schedule (%s) does not run", w.name, r.full(), ev["schedule"]),
					Fix:     fmt.Sprintf("re-enable it if it should run (clankerd task github.workflow.enable repo=%s workflow=%s), or delete its schedule", r.full(), w.file())})
				continue
			}
			f, err := p.lateRun(ctx, c, r, w, crons, late, now)
			if err != nil {
				return nil, err
			}
			if f != nil {
				f.Evidence["schedule"], f.Evidence["state"] = ev["schedule"], w.state
				out = append(out, *f)
			}
		}
		return out, nil
	})
}

// lateRun reports an active scheduled workflow whose latest scheduled run is older
// than the next time its schedule called for, plus late. Without a scheduled run in
// sight, the workflow's creation counts as its last run.
func (p *Provider) lateRun(ctx context.Context, c *client, r repo, w workflow, crons []string, late time.Duration, now time.Time) (*checks.Finding, error) {
	runs, err := c.runsOf(ctx, r, w, r.defaultBranch)
	if err != nil {
		return nil, err
	}
	last, what := w.created, "it was created"
	for _, x := range runs {
		if x.event == "schedule" {
			last, what = x.created, fmt.Sprintf("its last scheduled run #%d", x.number)
			break
		}
	}
	due, ok := nextRun(crons, last)
	if !ok || now.Sub(due) <= late {
		return nil, nil
	}
	return &checks.Finding{
		Resource: workflowResource(r, w), Problem: "schedule_late", Severity: checks.High,
		Summary: fmt.Sprintf("scheduled workflow %s in %s has not run since %s (%s); its schedule called for a run at %s",
			w.name, r.full(), last.UTC().Format("2006-01-02 15:04 MST"), what, due.UTC().Format("2006-01-02 15:04 MST")),
		Evidence: map[string]string{"url": w.htmlURL, "due": due.UTC().Format(time.RFC3339)},
		Fix:      "check the workflow's schedule and the Actions settings of the repository; GitHub skips schedules of workflows in forks and during outages",
	}, nil
}

// nextRun is the earliest time after t that one of the crons fires (GitHub's
// schedules are 5-field crons in UTC); false when none parses.
func nextRun(crons []string, t time.Time) (time.Time, bool) {
	var best time.Time
	for _, expr := range crons {
		s, err := cron.ParseStandard(expr)
		if err != nil {
			continue
		}
		n := s.Next(t.UTC())
		if best.IsZero() || n.Before(best) {
			best = n
		}
	}
	return best, !best.IsZero()
}
