package kube

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// pdb creates a budget over app=selects and writes the disruption controller's status.
func pdb(t *testing.T, ns, name, selects string, rule policyv1.PodDisruptionBudgetSpec, expected, healthy, allowed int32) {
	t.Helper()
	rule.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": selects}}
	api := env.Client.PolicyV1().PodDisruptionBudgets(ns)
	b, err := api.Create(t.Context(), &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: rule}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setPDBStatus(t, b, expected, healthy, allowed)
}

func setPDBStatus(t *testing.T, b *policyv1.PodDisruptionBudget, expected, healthy, allowed int32) {
	t.Helper()
	b.Status = policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: b.Generation, ExpectedPods: expected, CurrentHealthy: healthy,
		DesiredHealthy: healthy - allowed, DisruptionsAllowed: allowed,
	}
	if _, err := env.Client.PolicyV1().PodDisruptionBudgets(b.Namespace).UpdateStatus(t.Context(), b, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status of pdb %s: %v", b.Name, err)
	}
}

func minAvailable(n int) policyv1.PodDisruptionBudgetSpec {
	v := intstr.FromInt(n)
	return policyv1.PodDisruptionBudgetSpec{MinAvailable: &v}
}

// readyPod is a running, ready pod labelled app=app.
func readyPod(t *testing.T, ns, name, app string, ready bool) {
	t.Helper()
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionFalse
	}
	pod(t, ns, name, func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": app}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "x", Ready: ready, State: running()}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: ago(time.Hour)}}}
	})
}

func TestPDBBlocking(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	for _, name := range []string{"api-0", "api-1", "api-2"} {
		readyPod(t, ns, name, "api", true)
	}
	readyPod(t, ns, "sick-0", "sick", true)
	readyPod(t, ns, "sick-1", "sick", false)
	deployment(t, ns, "idle", 0, "", "")

	// Problems.
	pdb(t, ns, "tight", "api", minAvailable(3), 3, 3, 0)
	pdb(t, ns, "stale", "renamed", minAvailable(1), 0, 0, 0)
	// Healthy look-alikes: disruptions allowed, pods unhealthy, a workload scaled to zero.
	pdb(t, ns, "loose", "api", minAvailable(2), 3, 3, 1)
	pdb(t, ns, "sick", "sick", minAvailable(2), 2, 1, 0)
	pdb(t, ns, "idle", "idle", minAvailable(1), 0, 0, 0)

	params := map[string]string{"namespace": ns}
	expect(t, "k8s.pdb.blocking", found(t, p, "k8s.pdb.blocking", params),
		"poddisruptionbudget/"+ns+"/tight blocks_drain high",
		"poddisruptionbudget/"+ns+"/stale selects_no_pods low",
	)
	res, err := run(t, p, "k8s.pdb.blocking", params)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if f.Problem == "blocks_drain" && (f.Evidence["rule"] != "minAvailable 3" || f.Evidence["expected_pods"] != "3") {
			t.Errorf("blocking evidence: %v", f.Evidence)
		}
		if f.Problem == "selects_no_pods" && f.Evidence["selector"] != "app=renamed" {
			t.Errorf("selector evidence: %v", f.Evidence)
		}
	}

	// Fixing resolves on the next run: the budget leaves room, the pods get the label.
	b, err := env.Client.PolicyV1().PodDisruptionBudgets(ns).Get(t.Context(), "tight", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Spec = minAvailable(2)
	b.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}
	b, err = env.Client.PolicyV1().PodDisruptionBudgets(ns).Update(t.Context(), b, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setPDBStatus(t, b, 3, 3, 1)
	readyPod(t, ns, "renamed-0", "renamed", true)
	if got := found(t, p, "k8s.pdb.blocking", params); len(got) != 0 {
		t.Errorf("after the fix: %v", got)
	}
}
