package kube

import (
	"fmt"
	"strings"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/kubetest"
)

// planScaleTo plans k8s.deployment.scale of ns/name to n replicas.
func planScaleTo(t *testing.T, p *Provider, ns, name string, n int) checks.Plan {
	t.Helper()
	var task checks.Task
	for _, tk := range p.taskList() {
		if tk.Spec().ID == "k8s.deployment.scale" {
			task = tk
		}
	}
	params, err := task.Spec().Bind(map[string]string{"deployment": ns + "/" + name, "replicas": fmt.Sprint(n)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := task.Plan(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// usePods makes the metrics API report n pods of the deployment, each using cpu and mem.
func usePods(m *kubetest.MetricsAPI, ns, name string, n int, cpu, mem string) {
	for i := range n {
		m.SetPod(ns, fmt.Sprintf("%s-%d", name, i), map[string]string{"app": name},
			map[string]corev1.ResourceList{"app": {corev1.ResourceCPU: mustQuantity(cpu), corev1.ResourceMemory: mustQuantity(mem)}})
	}
}

func reasons(plan checks.Plan) string { return strings.Join(plan.RiskReasons, "; ") }

func deps(plan checks.Plan) string {
	var s []string
	for _, d := range plan.Dependencies {
		s = append(s, d.Resource+" "+d.Relation)
	}
	return strings.Join(s, "; ")
}

// The example: production/billing-worker 4 → 2. Idle with nothing depending
// on it, it is LOW though the namespace looks like production; once a Service and an
// Ingress route to it the plan names them and the risk rises.
func TestScalePlanIdleInProduction(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t) // "…production": the name heuristic applies
	metrics := env.ServeMetrics(t)
	deployment(t, ns, "billing-worker", 4, "500m", "1Gi")
	usePods(metrics, ns, "billing-worker", 4, "10m", "100Mi")

	plan := planScaleTo(t, p, ns, "billing-worker", 2)
	if plan.Risk != checks.RiskLow || !strings.Contains(reasons(plan), "idle (CPU 2% of requests, under 10%) and no Service or Ingress depends on it") ||
		!strings.Contains(reasons(plan), "looks like production") {
		t.Errorf("idle, no dependents, scaled down in production: %s: %s", plan.Risk, reasons(plan))
	}
	if plan.Utilization != "CPU 2% of requests, memory 10% of requests over 4 pods (metrics.k8s.io)" || len(plan.Dependencies) != 0 {
		t.Errorf("utilization %q, dependencies %v", plan.Utilization, plan.Dependencies)
	}

	svc, err := env.Client.CoreV1().Services(ns).Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "billing", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "billing-worker"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.Client.CoreV1().Services(ns).Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "other"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prefix := networkingv1.PathTypePrefix
	_, err = env.Client.NetworkingV1().Ingresses(ns).Create(t.Context(), &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "billing.example", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{
				{Path: "/invoices", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc.Name, Port: networkingv1.ServiceBackendPort{Number: 80}}}},
				{Path: "/other", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "other", Port: networkingv1.ServiceBackendPort{Number: 80}}}},
			},
		}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	served := planScaleTo(t, p, ns, "billing-worker", 2)
	want := fmt.Sprintf("service/%s/billing selects its pods (ClusterIP); ingress/%s/public routes billing.example/invoices → service billing", ns, ns)
	if deps(served) != want {
		t.Errorf("dependencies:\n got %s\nwant %s", deps(served), want)
	}
	if served.Risk != checks.RiskHigh || !strings.Contains(reasons(served), "idle (CPU 2% of requests) but 2 Services and Ingresses route to it") {
		t.Errorf("idle with dependents, in production: %s: %s", served.Risk, reasons(served))
	}
}

// A busy workload scaled down is HIGH from its load alone.
func TestScalePlanBusy(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	metrics := env.ServeMetrics(t)
	deployment(t, ns, "api", 4, "500m", "1Gi")
	usePods(metrics, ns, "api", 4, "300m", "200Mi")
	plan := planScaleTo(t, p, ns, "api", 2)
	if plan.Risk != checks.RiskHigh || !strings.Contains(reasons(plan), "busy: CPU 60% of requests now, about 120% after the change") {
		t.Errorf("busy scale-down: %s: %s", plan.Risk, reasons(plan))
	}
	up := planScaleTo(t, p, ns, "api", 6)
	if up.Risk != checks.RiskLow || up.Utilization != "CPU 60% of requests, memory 20% of requests over 4 pods (metrics.k8s.io)" {
		t.Errorf("scale-up: %s %q: %s", up.Risk, up.Utilization, reasons(up))
	}
}

// Without a metrics API the plan says so; an HPA managing the target, a PDB the change
// would violate and the last replica each make it HIGH, with their names and numbers.
func TestScalePlanHPAPDBLastReplica(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	deployment(t, ns, "queue", 4, "250m", "512Mi")

	plain := planScaleTo(t, p, ns, "queue", 3)
	if plain.Utilization != "utilization unknown: no metrics API" || plain.Risk != checks.RiskMedium || !strings.Contains(reasons(plain), "scales down with its load unknown") {
		t.Errorf("no metrics API: %q %s: %s", plain.Utilization, plain.Risk, reasons(plain))
	}

	minReplicas := int32(2)
	if _, err := env.Client.AutoscalingV1().HorizontalPodAutoscalers(ns).Create(t.Context(), &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "queue", Namespace: ns},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "queue"},
			MinReplicas:    &minReplicas, MaxReplicas: 10,
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	minAvailable := intstr.FromInt32(3)
	if _, err := env.Client.PolicyV1().PodDisruptionBudgets(ns).Create(t.Context(), &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "queue-pdb", Namespace: ns},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "queue"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	kept := planScaleTo(t, p, ns, "queue", 3)
	if kept.Risk != checks.RiskHigh || !strings.Contains(reasons(kept), "the HPA queue manages the replicas (min 2, max 10): a manual scale is undone") ||
		strings.Contains(reasons(kept), "PodDisruptionBudget") {
		t.Errorf("4 → 3 under an HPA, within the PDB: %s: %s", kept.Risk, reasons(kept))
	}
	want := fmt.Sprintf("hpa/%s/queue manages its replicas (min 2, max 10); pdb/%s/queue-pdb guards its pods (minAvailable 3)", ns, ns)
	if deps(kept) != want {
		t.Errorf("dependencies:\n got %s\nwant %s", deps(kept), want)
	}
	violates := planScaleTo(t, p, ns, "queue", 2)
	if !strings.Contains(reasons(violates), "4 → 2 pods violates the PodDisruptionBudget queue-pdb (minAvailable 3)") {
		t.Errorf("4 → 2 under minAvailable 3: %s", reasons(violates))
	}
	zero := planScaleTo(t, p, ns, "queue", 0)
	if zero.Risk != checks.RiskHigh || !strings.Contains(reasons(zero), "removes the last replica") {
		t.Errorf("scale to zero: %s: %s", zero.Risk, reasons(zero))
	}
}

func TestPDBViolated(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	n := func(i int32) *intstr.IntOrString { v := intstr.FromInt32(i); return &v }
	tests := []struct {
		name              string
		minAvail, maxUnav *intstr.IntOrString
		from, to          int
		want              bool
	}{
		{"minAvailable kept", n(2), nil, 4, 2, false},
		{"minAvailable broken", n(3), nil, 4, 2, true},
		{"minAvailable 50% of 4", pct("50%"), nil, 4, 2, false},
		{"minAvailable 75% of 4", pct("75%"), nil, 4, 2, true},
		{"maxUnavailable 1, two fewer", nil, n(1), 4, 2, true},
		{"maxUnavailable 1, one fewer", nil, n(1), 4, 3, false},
		{"maxUnavailable 50%", nil, pct("50%"), 4, 2, false},
		{"scale up under a budget already broken", n(10), nil, 4, 6, false},
	}
	for _, tt := range tests {
		b := &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: tt.minAvail, MaxUnavailable: tt.maxUnav}}
		if got := pdbViolated(b, tt.from, tt.to); got != tt.want {
			t.Errorf("%s: violated = %v, want %v", tt.name, got, tt.want)
		}
	}
}
