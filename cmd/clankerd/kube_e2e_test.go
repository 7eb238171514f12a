//go:build !clankerd_nokube

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/internal/testenv/kubetest"
)

// A plan for a Kubernetes task, made by check and applied by approve against a real
// apiserver; a plan whose target drifted is refused.
func TestKubernetesPlanThroughCLI(t *testing.T) {
	kenv := startKube(t)
	ctx := t.Context()
	kubeDeployment(t, kenv, "shop", "api", 2)
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

// startKube starts a test apiserver for one test, or skips it saying why.
func startKube(t *testing.T) *kubetest.Env {
	t.Helper()
	kenv, err := kubetest.Start(t.TempDir())
	if err != nil {
		kubetest.Require(t, nil, err.Error())
	}
	t.Cleanup(kenv.Stop)
	return kenv
}

// kubeDeployment creates the namespace (unless it exists) and a Deployment in it.
func kubeDeployment(t *testing.T, kenv *kubetest.Env, ns, name string, replicas int32) {
	t.Helper()
	_, err := kenv.Client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	labels := map[string]string{"app": name}
	_, err = kenv.Client.AppsV1().Deployments(ns).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "registry.example/" + name + ":1"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}
