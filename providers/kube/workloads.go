package kube

import (
	"context"
	"fmt"
	"strconv"

	"github.com/clankerd/clankerd/checks"
)

func (p *Provider) workloadsUnavailable(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
	deps, err := readDeployments(ctx, c)
	if err != nil {
		return nil, err
	}
	sets, err := read(ctx, c, statefulSetsKind)
	if err != nil {
		return nil, err
	}
	daemons, err := read(ctx, c, daemonSetsKind)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	for _, d := range inScope(s, deps) {
		out = appendShort(out, ref("deployment", d), "available", d.replicas, d.available)
		if cond := d.stalled; cond != nil {
			out = append(out, checks.Finding{
				Resource: ref("deployment", d), Problem: "progress_deadline", Severity: checks.High,
				Summary:  fmt.Sprintf("the rollout of deployment %s/%s exceeded its progress deadline", d.namespace, d.name),
				Evidence: map[string]string{"reason": cond.Reason, "message": cond.Message},
				Fix:      "kubectl rollout status and the new pods' events say why; roll back with kubectl rollout undo",
			})
		}
	}
	for _, st := range inScope(s, sets) {
		out = appendShort(out, ref("statefulset", st), "ready", replicas(st.Spec.Replicas), int(st.Status.ReadyReplicas))
	}
	for _, ds := range inScope(s, daemons) {
		out = appendShort(out, ref("daemonset", ds), "available", int(ds.Status.DesiredNumberScheduled), int(ds.Status.NumberAvailable))
	}
	return out, nil
}

// replicas reads spec.replicas, which defaults to 1.
func replicas(r *int32) int {
	if r == nil {
		return 1
	}
	return int(*r)
}

// appendShort adds a finding when fewer replicas are available (or ready) than desired.
func appendShort(out []checks.Finding, resource, what string, desired, have int) []checks.Finding {
	if have >= desired {
		return out
	}
	sev := checks.Medium
	if have == 0 {
		sev = checks.High
	}
	return append(out, checks.Finding{
		Resource: resource, Problem: "unavailable", Severity: sev,
		Summary:  fmt.Sprintf("%s has %d of %d replicas %s", resource, have, desired, what),
		Evidence: map[string]string{"desired": strconv.Itoa(desired), what: strconv.Itoa(have)},
		Fix:      "look at the workload's pods (k8s.pods.unhealthy) and events",
	})
}
