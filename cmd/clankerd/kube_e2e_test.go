//go:build !clankerd_nokube

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/internal/testenv/kubetest"
)

// A plan for a Kubernetes task, made by check and applied by approve against a real
// apiserver; a plan whose target drifted is refused.
func TestKubernetesPlanThroughCLI(t *testing.T) {
	kenv, err := kubetest.Start(t.TempDir())
	if err != nil {
		kubetest.Require(t, nil, err.Error())
	}
	defer kenv.Stop()
	ctx := t.Context()
	if _, err := kenv.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	two := int32(2)
	_, err = kenv.Client.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "registry.example/api:1"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, "---\nkube_context: test\n---\n## Hourly\n- `k8s.workloads.unavailable` namespace=shop\n\n## Tasks\n- `k8s.deployment.scale` deployment=shop/api replicas=4\n")
	envs := []string{"KUBECONFIG=" + kenv.Kubeconfig}
	replicasNow := func() int32 {
		d, err := kenv.Client.AppsV1().Deployments("shop").Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *d.Spec.Replicas
	}
	check := func() checkOutput {
		r := cliEnv(t, envs, state, "check", hb, "-o", "json")
		var out checkOutput
		if r.code != 1 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Results) != 2 || out.Results[1].Plan == nil {
			t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		return out
	}
	out := check()
	if f := out.Results[0].Findings; len(f) != 1 || f[0].Resource != "deployment/shop/api" {
		t.Errorf("workloads finding = %+v", f)
	}
	id := out.Results[1].Plan.ID
	if replicasNow() != 2 {
		t.Fatal("check changed the deployment")
	}
	if r := cliEnv(t, envs, state, "approve", id, "--yes"); r.code != 0 {
		t.Fatalf("approve: %+v", r)
	}
	if got := replicasNow(); got != 4 {
		t.Fatalf("replicas after approve = %d, want 4", got)
	}

	// The next plan sees 4; someone scales to 5 before it is approved: refused.
	stale := check().Results[1].Plan.ID
	d, _ := kenv.Client.AppsV1().Deployments("shop").Get(ctx, "api", metav1.GetOptions{})
	five := int32(5)
	d.Spec.Replicas = &five
	if _, err := kenv.Client.AppsV1().Deployments("shop").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := cliEnv(t, envs, state, "approve", stale, "--yes")
	if r.code != 4 || !strings.Contains(r.stderr, `replicas was "4" when planned, is "5" now`) {
		t.Errorf("approve of a drifted plan: %+v", r)
	}
	if got := replicasNow(); got != 5 {
		t.Errorf("a stale plan changed replicas to %d", got)
	}
	if r := cli(t, state, "audit", "verify"); r.code != 0 {
		t.Errorf("audit verify: %+v", r)
	}
}

// The example through the CLI: production/billing-worker 4 → 2, idle (from
// metrics.k8s.io served through API aggregation) and with nothing depending on it, is
// LOW though the namespace is called production, and `plan show` lays out what a
// person decides from.
func TestKubernetesScalePlanShowsFacts(t *testing.T) {
	kenv, err := kubetest.Start(t.TempDir())
	if err != nil {
		kubetest.Require(t, nil, err.Error())
	}
	t.Cleanup(kenv.Stop) // after the metrics API's cleanup, which needs the apiserver
	ctx := t.Context()
	if _, err := kenv.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "production"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	four := int32(4)
	requests := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	app := map[string]string{"app": "billing-worker"}
	_, err = kenv.Client.AppsV1().Deployments("production").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "billing-worker", Namespace: "production"},
		Spec: appsv1.DeploymentSpec{Replicas: &four, Selector: &metav1.LabelSelector{MatchLabels: app},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: app},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "worker", Image: "registry.example/billing:3", Resources: corev1.ResourceRequirements{Requests: requests}}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	metrics := kenv.ServeMetrics(t)
	for _, pod := range []string{"billing-worker-a", "billing-worker-b", "billing-worker-c", "billing-worker-d"} {
		metrics.SetPod("production", pod, app, map[string]corev1.ResourceList{"worker": {corev1.ResourceCPU: resource.MustParse("15m"), corev1.ResourceMemory: resource.MustParse("120Mi")}})
	}

	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, "---\nkube_context: test\n---\n## Tasks\n- `k8s.deployment.scale` deployment=production/billing-worker replicas=2\n")
	envs := []string{"KUBECONFIG=" + kenv.Kubeconfig}
	r := cliEnv(t, envs, state, "check", hb, "-o", "json")
	var out checkOutput
	if json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Results) != 1 || out.Results[0].Plan == nil {
		t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	show := cliEnv(t, envs, state, "plan", "show", out.Results[0].Plan.ID)
	for _, want := range []string{
		"PLAN " + out.Results[0].Plan.ID + " (pending): k8s.deployment.scale",
		"Resources affected:\n  deployment/production/billing-worker  replicas 4 → 2",
		"Current state:\n  CPU 3% of requests, memory 12% of requests over 4 pods (metrics.k8s.io)\n",
		"Estimated cost change: -",
		"Risk: LOW — idle (CPU 3% of requests, under 10%) and no Service or Ingress depends on it",
		`the namespace "production" looks like production`,
		"Approve: clankerd approve " + out.Results[0].Plan.ID,
	} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("plan show lacks %q:\n%s", want, show.stdout)
		}
	}
}
