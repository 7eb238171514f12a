package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/clankerd/clankerd/checks"
)

// pressures are the node conditions that are bad when True.
var pressures = []struct {
	cond     corev1.NodeConditionType
	problem  string
	severity checks.Severity
}{
	{corev1.NodeMemoryPressure, "memory_pressure", checks.High},
	{corev1.NodeDiskPressure, "disk_pressure", checks.High},
	{corev1.NodePIDPressure, "pid_pressure", checks.Medium},
}

func (p *Provider) nodesNotReady(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
	nodes, err := read(ctx, c, nodesKind)
	if err != nil {
		return nil, err
	}
	s.namespace = "" // nodes have none
	var out []checks.Finding
	for _, n := range inScope(s, nodes) {
		res := ref("node", n)
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue {
				out = append(out, checks.Finding{
					Resource: res, Problem: "not_ready", Severity: checks.Critical,
					Summary:  fmt.Sprintf("node %s is not Ready (%s: %s)", n.Name, cond.Status, cond.Reason),
					Evidence: map[string]string{"ready": string(cond.Status), "reason": cond.Reason},
					Fix:      "check the kubelet and the machine; kubectl describe node shows the last heartbeat",
				})
			}
			for _, pr := range pressures {
				if cond.Type == pr.cond && cond.Status == corev1.ConditionTrue {
					out = append(out, checks.Finding{
						Resource: res, Problem: pr.problem, Severity: pr.severity,
						Summary:  fmt.Sprintf("node %s reports %s", n.Name, pr.cond),
						Evidence: map[string]string{"condition": string(pr.cond), "reason": cond.Reason},
						Fix:      "free or add capacity; pods may be evicted from this node",
					})
				}
			}
		}
		if n.Spec.Unschedulable {
			out = append(out, checks.Finding{
				Resource: res, Problem: "cordoned", Severity: checks.Info,
				Summary:  fmt.Sprintf("node %s is cordoned (unschedulable)", n.Name),
				Evidence: map[string]string{"unschedulable": "true"},
				Fix:      "uncordon it when maintenance is done (k8s.node.uncordon)",
			})
		}
	}
	return out, nil
}

func (p *Provider) pvcPending(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
	pvcs, err := read(ctx, c, pvcsKind)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	for _, pvc := range inScope(s, pvcs) {
		phase := pvc.Status.Phase
		if phase == corev1.ClaimBound {
			continue
		}
		problem, sev := "pvc_pending", checks.Medium
		if phase == corev1.ClaimLost {
			problem, sev = "pvc_lost", checks.High
		}
		class := ""
		if pvc.Spec.StorageClassName != nil {
			class = *pvc.Spec.StorageClassName
		}
		out = append(out, checks.Finding{
			Resource: ref("persistentvolumeclaim", pvc), Problem: problem, Severity: sev,
			Summary:  fmt.Sprintf("PersistentVolumeClaim %s/%s is %s, not Bound", pvc.Namespace, pvc.Name, phaseOr(string(phase), "Pending")),
			Evidence: map[string]string{"phase": phaseOr(string(phase), "Pending"), "storage_class": class},
			Fix:      "check the storage class and its provisioner; kubectl describe pvc shows the events",
		})
	}
	return out, nil
}

func phaseOr(phase, dflt string) string {
	if phase == "" {
		return dflt
	}
	return phase
}
