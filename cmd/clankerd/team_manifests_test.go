//go:build !clankerd_nokube

package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTeamManifestsApplyToTheAPIServer validates contrib/kubernetes/team/ the way an
// operator installs it (docs/team.md): the namespace, then the ClusterRoles it binds
// and team/ through `kubectl apply --dry-run=server` (the apiserver's own validation,
// admission and RBAC escalation checks), then for real; and then asks the apiserver
// whether the replicas' service account has the rights team mode needs, and lacks
// what it must not have.
// teamRoleFiles are the files of contrib/kubernetes/ a team install applies with
// team/: the roles team/ binds. Secrets stay opt-in (clankerd-secrets.yaml).
var teamRoleFiles = []string{"clankerd-read.yaml", "clankerd-write.yaml", "clankerd-lease.yaml"}

func TestTeamManifestsApplyToTheAPIServer(t *testing.T) {
	kenv := startKube(t)
	kubectl := kenv.Kubectl(t)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kenv.Kubeconfig}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	contrib := filepath.Join("..", "..", "contrib", "kubernetes")
	team := filepath.Join(contrib, "team")
	files := []string{}
	for _, f := range teamRoleFiles {
		files = append(files, "-f", filepath.Join(contrib, f))
	}
	files = append(files, "-f", team)
	run("apply", "-f", filepath.Join(team, "00-namespace.yaml"))
	out := run(append([]string{"apply", "--dry-run=server"}, files...)...)
	for _, want := range []string{
		"deployment.apps/clankerd created (server dry run)",
		"service/clankerd created (server dry run)",
		"poddisruptionbudget.policy/clankerd created (server dry run)",
		"networkpolicy.networking.k8s.io/clankerd created (server dry run)",
		"configmap/clankerd-heartbeat created (server dry run)",
		"role.rbac.authorization.k8s.io/clankerd-lease created (server dry run)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	run(append([]string{"apply"}, files...)...)

	sa := "system:serviceaccount:clankerd:clankerd"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "leases.coordination.k8s.io", "-n", "clankerd"}, "yes"},
		{[]string{"update", "leases.coordination.k8s.io/clankerd", "-n", "clankerd"}, "yes"},
		{[]string{"update", "leases.coordination.k8s.io/other", "-n", "clankerd"}, "no"},
		{[]string{"create", "tokenreviews.authentication.k8s.io"}, "yes"},
		{[]string{"create", "subjectaccessreviews.authorization.k8s.io"}, "yes"},
		{[]string{"list", "pods", "-A"}, "yes"},
		{[]string{"list", "secrets", "-n", "clankerd"}, "no"},
		{[]string{"delete", "namespaces"}, "no"},
		{[]string{"create", "leases.coordination.k8s.io", "-n", "default"}, "no"},
	} {
		args := append([]string{"auth", "can-i", "--as", sa}, c.args...)
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kenv.Kubeconfig}, args...)...)
		got, _ := cmd.Output() // can-i exits 1 for "no"
		if strings.TrimSpace(string(got)) != c.want {
			t.Errorf("kubectl auth can-i %s as the replicas: %q, want %q", strings.Join(c.args, " "), strings.TrimSpace(string(got)), c.want)
		}
	}
}
