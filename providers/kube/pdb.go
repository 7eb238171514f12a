package kube

import (
	"context"
	"fmt"
	"strconv"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/clankerd/clankerd/checks"
)

var pdbsKind = kindReader[policyv1.PodDisruptionBudget]{
	name: "poddisruptionbudgets",
	list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]policyv1.PodDisruptionBudget, string, error) {
		l, err := c.PolicyV1().PodDisruptionBudgets("").List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	},
	informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Policy().V1().PodDisruptionBudgets().Informer()
	},
}

// pdbBlocking reports budgets that stop every voluntary eviction although all their
// pods are healthy (the disruption controller's status says so), and budgets that
// select nothing. "Selects nothing" is computed from the pods and the pod templates
// of Deployments and StatefulSets in the budget's namespace, not from the status: a
// budget over a workload scaled to zero on purpose matches its template and is quiet.
// A budget with no disruption allowed because pods are unhealthy is not reported here
// (k8s.pods.unhealthy and k8s.workloads.unavailable cover those pods).
func (p *Provider) pdbBlocking(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
	pdbs, err := read(ctx, c, pdbsKind)
	if err != nil {
		return nil, err
	}
	pdbs = inScope(s, pdbs)
	if len(pdbs) == 0 {
		return nil, nil
	}
	pods, err := readPods(ctx, c)
	if err != nil {
		return nil, err
	}
	templates, err := podTemplateLabels(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	for _, b := range pdbs {
		res := ref("poddisruptionbudget", b)
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err != nil {
			sel = labels.Nothing()
		}
		st := b.Status
		if st.ExpectedPods > 0 && st.DisruptionsAllowed == 0 && st.CurrentHealthy >= st.ExpectedPods {
			out = append(out, checks.Finding{
				Resource: res, Problem: "blocks_drain", Severity: checks.High,
				Summary:  fmt.Sprintf("PodDisruptionBudget %s/%s allows no disruption with all %d pods healthy: draining a node with one of them hangs", b.Namespace, b.Name, st.ExpectedPods),
				Evidence: map[string]string{"rule": pdbRule(b), "expected_pods": strconv.Itoa(int(st.ExpectedPods)), "current_healthy": strconv.Itoa(int(st.CurrentHealthy)), "disruptions_allowed": "0"},
				Fix:      "lower minAvailable below the replica count (or raise maxUnavailable above 0), or add replicas",
			})
			continue
		}
		if !selectsAny(sel, b.Namespace, pods, templates) {
			out = append(out, checks.Finding{
				Resource: res, Problem: "selects_no_pods", Severity: checks.Low,
				Summary:  fmt.Sprintf("PodDisruptionBudget %s/%s selects no pod and no workload in its namespace", b.Namespace, b.Name),
				Evidence: map[string]string{"selector": budgetSelector(b.Spec.Selector)},
				Fix:      "fix the selector to match the workload's pod labels, or delete the budget",
			})
		}
	}
	return out, nil
}

// selectsAny reports whether a selector matches a live pod or a workload's pod
// template in the namespace.
func selectsAny(sel labels.Selector, ns string, pods []*compactPod, templates []nsLabels) bool {
	if sel.Empty() {
		return true // {} selects every pod; an empty namespace is not the budget's fault
	}
	for _, pd := range pods {
		if pd.namespace == ns && !pd.finished() && sel.Matches(labels.Set(pd.labels)) {
			return true
		}
	}
	for _, t := range templates {
		if t.namespace == ns && sel.Matches(t.labels) {
			return true
		}
	}
	return false
}

// nsLabels are the pod template labels of one workload.
type nsLabels struct {
	namespace string
	labels    labels.Set
}

// podTemplateLabels reads the pod template labels of every Deployment and StatefulSet.
func podTemplateLabels(ctx context.Context, c *conn) ([]nsLabels, error) {
	deps, err := readDeployments(ctx, c)
	if err != nil {
		return nil, err
	}
	sets, err := read(ctx, c, statefulSetsKind)
	if err != nil {
		return nil, err
	}
	out := make([]nsLabels, 0, len(deps)+len(sets))
	for _, d := range deps {
		out = append(out, nsLabels{d.namespace, d.templateLabels})
	}
	for _, st := range sets {
		out = append(out, nsLabels{st.Namespace, st.Spec.Template.Labels})
	}
	return out, nil
}

func budgetSelector(s *metav1.LabelSelector) string {
	if s == nil {
		return "(none)"
	}
	return metav1.FormatLabelSelector(s)
}
