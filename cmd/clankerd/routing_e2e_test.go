//go:build !clankerd_nokube

package main

import (
	"strings"
	"testing"
)

// TestAskResolvesNamesAgainstTheCluster asks the article's change requests of issue 13
// against a real apiserver: a Deployment named without its namespace resolves to the
// one namespace that has it, a relative number to the absolute target the plan shows,
// and a name two namespaces have is asked back with both.
func TestAskResolvesNamesAgainstTheCluster(t *testing.T) {
	kenv := startKube(t)
	kubeDeployment(t, kenv, "production", "billing-worker", 4)
	kubeDeployment(t, kenv, "production", "checkout-api", 3)
	kubeDeployment(t, kenv, "staging", "checkout-api", 1)
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
