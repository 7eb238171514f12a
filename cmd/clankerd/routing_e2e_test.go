//go:build !clankerd_nokube

package main

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/internal/testenv/kubetest"
)

// TestAskResolvesNamesAgainstTheCluster asks the article's change requests of issue 13
// against a real apiserver: a Deployment named without its namespace resolves to the
// one namespace that has it, a relative number to the absolute target the plan shows,
// and a name two namespaces have is asked back with both.
func TestAskResolvesNamesAgainstTheCluster(t *testing.T) {
	kenv, err := kubetest.Start(t.TempDir())
	if err != nil {
		kubetest.Require(t, nil, err.Error())
	}
	defer kenv.Stop()
	for _, d := range []struct {
		ns, name string
		replicas int32
	}{{"production", "billing-worker", 4}, {"production", "checkout-api", 3}, {"staging", "checkout-api", 1}} {
		if _, err := kenv.Client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: d.ns}}, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
		labels := map[string]string{"app": d.name}
		_, err := kenv.Client.AppsV1().Deployments(d.ns).Create(t.Context(), &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: d.ns},
			Spec: appsv1.DeploymentSpec{Replicas: &d.replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	envs := []string{"KUBECONFIG=" + kenv.Kubeconfig}
	for _, c := range []struct{ question, want string }{
		{"scale billing-worker to 2 replicas", "replicas 4 → 2"},
		{"generate a plan to scale billing-worker from 4 to 2 replicas", "replicas 4 → 2"},
		{"scale billing-worker +2", "replicas 4 → 6"},
		{"estimate monthly cost change for deploying 2 additional checkout-api pods in production", "replicas 3 → 5"},
	} {
		r := cliEnv(t, envs, t.TempDir(), "ask", c.question, "--maker")
		if r.code != 0 || !strings.Contains(r.stdout, c.want) || !strings.Contains(r.stdout, "deployment/production/") {
			t.Errorf("ask %q --maker: exit %d, want a plan with %q\n%s\n%s", c.question, r.code, c.want, r.stdout, r.stderr)
		}
	}
	r := cliEnv(t, envs, t.TempDir(), "ask", "scale checkout-api to 1", "--maker")
	if r.code == 0 || !strings.Contains(r.stderr, "production/checkout-api, staging/checkout-api") {
		t.Errorf("an ambiguous name: exit %d, want an error listing both\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
