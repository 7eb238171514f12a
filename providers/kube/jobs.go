package kube

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/checks"
)

func (p *Provider) jobsFailed(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
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
	for _, cj := range inScope(s, crons) {
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

func jobFailed(j *batchv1.Job) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		cond := &j.Status.Conditions[i]
		if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue {
			return cond
		}
	}
	return nil
}
