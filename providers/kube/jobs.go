package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/checks"
)

func (p *Provider) jobsFailed(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Finding, error) {
	jobs, err := read(ctx, c, jobsKind)
	if err != nil {
		return nil, err
	}
	crons, err := read(ctx, c, cronJobsKind)
	if err != nil {
		return nil, err
	}
	// The newest job of each CronJob tells whether its last run failed.
	latest := map[string]*batchv1.Job{}
	var out []checks.Finding
	for _, j := range jobs {
		if owner := metav1.GetControllerOf(j); owner != nil && owner.Kind == "CronJob" {
			key := j.Namespace + "/" + owner.Name
			if prev := latest[key]; prev == nil || j.CreationTimestamp.After(prev.CreationTimestamp.Time) {
				latest[key] = j
			}
			continue
		}
		if !s.has(j) {
			continue
		}
		if cond := jobFailed(j); cond != nil {
			out = append(out, checks.Finding{
				Resource: ref("job", j), Problem: "job_failed", Severity: checks.Medium,
				Summary:  fmt.Sprintf("job %s/%s failed: %s", j.Namespace, j.Name, cond.Reason),
				Evidence: map[string]string{"reason": cond.Reason, "failed_pods": fmt.Sprint(j.Status.Failed)},
				Fix:      "read the logs of its pods; delete the job once handled",
			})
		}
	}
	now, late := p.now(), params.Duration("late")
	for _, cj := range inScope(s, crons) {
		if f, ok := cronJobLate(cj, now, late); ok {
			out = append(out, f)
		}
		j := latest[cj.Namespace+"/"+cj.Name]
		if j == nil {
			continue
		}
		if cond := jobFailed(j); cond != nil {
			out = append(out, checks.Finding{
				Resource: ref("cronjob", cj), Problem: "cronjob_last_failed", Severity: checks.High,
				Summary:  fmt.Sprintf("the last run of cronjob %s/%s (job %s) failed: %s", cj.Namespace, cj.Name, j.Name, cond.Reason),
				Evidence: map[string]string{"job": j.Name, "reason": cond.Reason},
				Fix:      "read the logs of the failed job's pods",
			})
		}
	}
	return out, nil
}

// cronParser reads CronJob schedules as the CronJob controller does: five fields or
// a descriptor (@hourly), with an optional CRON_TZ= prefix.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronJobLate reports a CronJob that is not suspended and whose next run after the
// last one (or after its creation, when it never ran) is more than late in the past.
// spec.timeZone is honoured. A schedule or time zone that does not parse is left
// alone: the apiserver validates both, so it is rare and not this check's question.
func cronJobLate(cj *batchv1.CronJob, now time.Time, late time.Duration) (checks.Finding, bool) {
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return checks.Finding{}, false
	}
	spec := cj.Spec.Schedule
	if tz := cj.Spec.TimeZone; tz != nil && *tz != "" && !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") {
		spec = "CRON_TZ=" + *tz + " " + spec
	}
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return checks.Finding{}, false
	}
	last, ran := cj.CreationTimestamp.Time, "never"
	if t := cj.Status.LastScheduleTime; t != nil {
		last, ran = t.Time, t.UTC().Format(time.RFC3339)
	}
	due := sched.Next(last)
	if due.IsZero() || now.Sub(due) <= late {
		return checks.Finding{}, false
	}
	return checks.Finding{
		Resource: ref("cronjob", cj), Problem: "cronjob_missed", Severity: checks.Medium,
		Summary:  fmt.Sprintf("cronjob %s/%s missed its run due at %s", cj.Namespace, cj.Name, due.UTC().Format(time.RFC3339)),
		Evidence: map[string]string{"schedule": cj.Spec.Schedule, "last_schedule": ran, "due": due.UTC().Format(time.RFC3339)},
		Fix:      "look for a run still going (concurrencyPolicy: Forbid skips runs), a too small startingDeadlineSeconds, or a stopped kube-controller-manager",
	}, true
}

func jobFailed(j *batchv1.Job) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		cond := &j.Status.Conditions[i]
		if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue {
			return cond
		}
	}
	return nil
}
