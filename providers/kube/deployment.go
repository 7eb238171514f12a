package kube

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// compactDeployment is what the checks read of a Deployment, and nothing more (see
// compactPod for why).
type compactDeployment struct {
	compactMeta
	replicas  int // spec.replicas, 1 when unset
	available int // status.availableReplicas
	// stalled is the Progressing condition when the rollout exceeded its progress
	// deadline, nil otherwise.
	stalled *appsv1.DeploymentCondition
	// templateLabels and spec are the pod template's labels and the parts of its
	// spec the checks read (checkedSpec).
	templateLabels map[string]string
	spec           *checkedPodSpec
}

// readDeployments returns every Deployment in compact form (readCompact).
func readDeployments(ctx context.Context, c *conn) ([]*compactDeployment, error) {
	return readCompact(ctx, c, deploymentsKind, func(in *interner, d *appsv1.Deployment, cached bool) *compactDeployment {
		t := &d.Spec.Template
		in.mu.Lock()
		cd := &compactDeployment{
			compactMeta: in.meta(d), replicas: replicas(d.Spec.Replicas), available: int(d.Status.AvailableReplicas),
			templateLabels: in.strMap(t.Labels),
		}
		in.mu.Unlock()
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentProgressing && cond.Status == corev1.ConditionFalse && cond.Reason == "ProgressDeadlineExceeded" {
				cd.stalled = &cond
			}
		}
		if !cached { // the cache's Deployments are slimmed, and shared
			slimPodSpec(&t.Spec)
		}
		cd.spec = in.checkedSpec(&t.Spec)
		return cd
	})
}
