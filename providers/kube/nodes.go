package kube

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

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
	pvs, err := read(ctx, c, pvsKind)
	if err != nil {
		return nil, err
	}
	return append(out, releasedVolumes(s, pvs)...), nil
}

// pvsKind reads PersistentVolumes (cluster-scoped).
var pvsKind = kindReader[corev1.PersistentVolume]{
	name: "persistentvolumes",
	list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]corev1.PersistentVolume, string, error) {
		l, err := c.CoreV1().PersistentVolumes().List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	},
	informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Core().V1().PersistentVolumes().Informer()
	},
}

// releasedVolumes reports PersistentVolumes left Released (their claim is gone and
// the Retain policy keeps the disk, and its cost, until someone acts) or Failed (the
// reclaim failed). A volume belongs to the namespace of the claim it was bound to, so
// namespace= and exclude_namespaces= apply to that.
func releasedVolumes(s scope, pvs []*corev1.PersistentVolume) []checks.Finding {
	var out []checks.Finding
	for _, pv := range pvs {
		phase := pv.Status.Phase
		if phase != corev1.VolumeReleased && phase != corev1.VolumeFailed {
			continue
		}
		claim := ""
		if r := pv.Spec.ClaimRef; r != nil {
			claim = r.Namespace + "/" + r.Name
			if slices.Contains(s.exclude, r.Namespace) {
				continue
			}
		}
		if s.namespace != "" && (pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Namespace != s.namespace) {
			continue
		}
		if !s.selector.Matches(labels.Set(pv.Labels)) {
			continue
		}
		problem, sev, fix := "pv_released", checks.Low, "reuse the volume (clear spec.claimRef) or delete it and its disk once its data is no longer needed"
		if phase == corev1.VolumeFailed {
			problem, sev, fix = "pv_failed", checks.Medium, "kubectl describe pv shows why the reclaim failed; delete the disk by hand, then the volume"
		}
		out = append(out, checks.Finding{
			Resource: ref("persistentvolume", pv), Problem: problem, Severity: sev,
			Summary:  fmt.Sprintf("PersistentVolume %s is %s (it was bound to %s)", pv.Name, phase, phaseOr(claim, "no claim")),
			Evidence: map[string]string{"phase": string(phase), "claim": claim, "reclaim_policy": string(pv.Spec.PersistentVolumeReclaimPolicy), "message": pv.Status.Message},
			Fix:      fix,
		})
	}
	return out
}

func phaseOr(phase, dflt string) string {
	if phase == "" {
		return dflt
	}
	return phase
}
