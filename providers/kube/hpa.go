package kube

import (
	"context"
	"fmt"
	"strconv"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/clankerd/clankerd/checks"
)

// hpasKind reads HorizontalPodAutoscalers through autoscaling/v2, which carries
// their conditions.
var hpasKind = kindReader[autoscalingv2.HorizontalPodAutoscaler]{
	name: "horizontalpodautoscalers",
	list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]autoscalingv2.HorizontalPodAutoscaler, string, error) {
		l, err := c.AutoscalingV2().HorizontalPodAutoscalers("").List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	},
	informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Autoscaling().V2().HorizontalPodAutoscalers().Informer()
	},
}

func (p *Provider) hpaBroken(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Finding, error) {
	hpas, err := read(ctx, c, hpasKind)
	if err != nil {
		return nil, err
	}
	hpas = inScope(s, hpas)
	if len(hpas) == 0 {
		return nil, nil
	}
	targets, err := p.scaleTargets(ctx, c)
	if err != nil {
		return nil, err
	}
	limitedFor := params.Duration("for")
	now := p.now()
	var out []checks.Finding
	for _, h := range hpas {
		res := ref("horizontalpodautoscaler", h)
		t := h.Spec.ScaleTargetRef
		exists, err := targets.exists(ctx, h.Namespace, t)
		if err != nil {
			return nil, err
		}
		if !exists {
			out = append(out, checks.Finding{
				Resource: res, Problem: "target_missing", Severity: checks.High,
				Summary:  fmt.Sprintf("HorizontalPodAutoscaler %s/%s scales %s %s, which does not exist", h.Namespace, h.Name, t.Kind, t.Name),
				Evidence: map[string]string{"target": t.Kind + "/" + t.Name},
				Fix:      "point scaleTargetRef at an existing workload, or delete the autoscaler",
			})
			continue // without a target the other conditions say nothing more
		}
		if cond := hpaCondition(h, autoscalingv2.ScalingActive); cond != nil && cond.Status == corev1.ConditionFalse && cond.Reason != "ScalingDisabled" {
			// ScalingDisabled is a target scaled to zero on purpose.
			out = append(out, checks.Finding{
				Resource: res, Problem: "metrics_unavailable", Severity: checks.High,
				Summary:  fmt.Sprintf("HorizontalPodAutoscaler %s/%s cannot compute a replica count: %s", h.Namespace, h.Name, cond.Reason),
				Evidence: map[string]string{"reason": cond.Reason, "message": cond.Message},
				Fix:      "check that the metrics API (metrics-server or an adapter) serves the metric and that the target's containers request the resource",
			})
		}
		if cond := hpaCondition(h, autoscalingv2.ScalingLimited); cond != nil && cond.Status == corev1.ConditionTrue &&
			h.Status.CurrentReplicas >= h.Spec.MaxReplicas && now.Sub(cond.LastTransitionTime.Time) > limitedFor {
			out = append(out, checks.Finding{
				Resource: res, Problem: "at_max_replicas", Severity: checks.Medium,
				Summary: fmt.Sprintf("HorizontalPodAutoscaler %s/%s has wanted more than its %d max replicas since %s",
					h.Namespace, h.Name, h.Spec.MaxReplicas, cond.LastTransitionTime.UTC().Format(time.RFC3339)),
				Evidence: map[string]string{
					"current_replicas": strconv.Itoa(int(h.Status.CurrentReplicas)), "desired_replicas": strconv.Itoa(int(h.Status.DesiredReplicas)),
					"max_replicas": strconv.Itoa(int(h.Spec.MaxReplicas)), "reason": cond.Reason, "since": cond.LastTransitionTime.UTC().Format(time.RFC3339),
				},
				Fix: "raise maxReplicas if the cluster has room, or find why the load is higher than planned",
			})
		}
	}
	return out, nil
}

func hpaCondition(h *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType) *autoscalingv2.HorizontalPodAutoscalerCondition {
	for i := range h.Status.Conditions {
		if h.Status.Conditions[i].Type == t {
			return &h.Status.Conditions[i]
		}
	}
	return nil
}

// scaleTargets says whether an autoscaler's target exists: Deployments and
// StatefulSets from the round's lists, ReplicaSets (rarely a target) by a GET each.
type scaleTargets struct {
	c     *conn
	named map[string]bool // "Deployment/ns/name"
}

func (p *Provider) scaleTargets(ctx context.Context, c *conn) (scaleTargets, error) {
	deps, err := readDeployments(ctx, c)
	if err != nil {
		return scaleTargets{}, err
	}
	sets, err := read(ctx, c, statefulSetsKind)
	if err != nil {
		return scaleTargets{}, err
	}
	named := make(map[string]bool, len(deps)+len(sets))
	for _, d := range deps {
		named["Deployment/"+d.namespace+"/"+d.name] = true
	}
	for _, st := range sets {
		named["StatefulSet/"+st.Namespace+"/"+st.Name] = true
	}
	return scaleTargets{c: c, named: named}, nil
}

// exists reports whether the target exists; kinds it cannot tell (custom resources
// with a scale subresource) count as existing, so they are never a finding.
func (t scaleTargets) exists(ctx context.Context, ns string, ref autoscalingv2.CrossVersionObjectReference) (bool, error) {
	switch ref.Kind {
	case "Deployment", "StatefulSet":
		return t.named[ref.Kind+"/"+ns+"/"+ref.Name], nil
	case "ReplicaSet":
		_, err := t.c.client.AppsV1().ReplicaSets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, t.c.apiError("getting", "replicaset "+ns+"/"+ref.Name, err)
		}
		return true, nil
	}
	return true, nil
}

// autoscalerBudgetRefQuotaChecks are the checks of autoscalers, disruption budgets,
// references and quotas, for checkList.
func (p *Provider) autoscalerBudgetRefQuotaChecks() []checkDef {
	return []checkDef{
		{spec("k8s.hpa.broken", "HorizontalPodAutoscalers whose scale target does not exist, that cannot read their metrics, or that have sat at maxReplicas for too long", checks.CategoryHealth,
			[]string{"hpa", "hpas", "horizontal pod autoscaler", "horizontal pod autoscalers", "pod autoscaler", "autoscaler", "autoscalers", "autoscaling", "horizontalpodautoscaler", "max replicas", "maxreplicas"},
			checks.ParamSpec{Name: "for", Type: checks.Duration, Default: "1h", Doc: "report autoscalers held at maxReplicas for longer than this"}),
			p.hpaBroken},
		{spec("k8s.pdb.blocking", "PodDisruptionBudgets that allow no disruption while all their pods are healthy (a drain hangs), and budgets that select no pods", checks.CategoryHealth,
			[]string{"pdb", "pdbs", "poddisruptionbudget", "disruption budget", "disruption budgets", "disruption", "drain", "draining", "eviction", "evictions", "maintenance"}),
			p.pdbBlocking},
		{spec("k8s.refs.missing", "Pods and workloads that reference a ConfigMap, Secret, PersistentVolumeClaim or ServiceAccount that does not exist", checks.CategoryHealth,
			[]string{"references", "reference", "refs", "missing", "configmap", "configmaps", "missing configmap", "missing secret", "missing secrets", "serviceaccount", "missing serviceaccount"},
			secretsParam),
			p.refsMissing},
		{spec("k8s.quota.exhausted", "ResourceQuotas at or above a share of a hard limit", checks.CategoryHealth,
			[]string{"quota", "quotas", "resourcequota", "resourcequotas", "resource quota", "exhausted"},
			checks.ParamSpec{Name: "threshold", Type: checks.Float, Default: "90", Doc: "report quotas whose use of a hard limit is at or above this percentage"}),
			p.quotaExhausted},
	}
}
