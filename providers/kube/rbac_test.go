package kube

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/clankerd/clankerd/internal/testenv/plantest"
)

// applyClusterRole creates the ClusterRole in a contrib/kubernetes file and binds it
// to the user "nobody" (a token with no other grants), until the test ends (the
// cleanups cannot use t.Context(): it is cancelled before they run).
func applyClusterRole(t *testing.T, file string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "contrib", "kubernetes", file))
	if err != nil {
		t.Fatal(err)
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	role := obj.(*rbacv1.ClusterRole)
	for _, r := range role.Rules {
		if file == "clankerd-read.yaml" && !slices.Equal(r.Verbs, []string{"get", "list", "watch"}) {
			t.Errorf("%s grants %v on %v: the read role must only read", file, r.Verbs, r.Resources)
		}
	}
	rbac := env.Client.RbacV1()
	if _, err := rbac.ClusterRoles().Create(t.Context(), role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rbac.ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{}) }) // t.Context() is done by then
	b, err := rbac.ClusterRoleBindings().Create(t.Context(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name + "-nobody"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "nobody"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rbac.ClusterRoleBindings().Delete(context.Background(), b.Name, metav1.DeleteOptions{}) })
	r := role.Rules[0]
	group := ""
	if len(r.APIGroups) > 0 {
		group = r.APIGroups[0]
	}
	waitAuthorized(t, r.Verbs[0], group, r.Resources[0], true)
}

// noGrants waits until the grants earlier tests gave "nobody" (the read role, the
// secrets role) have left the authorizer.
func noGrants(t *testing.T) {
	t.Helper()
	waitAuthorized(t, "list", "", "pods", false)
	waitAuthorized(t, "list", "", "secrets", false)
	waitAuthorized(t, "list", "admissionregistration.k8s.io", "validatingwebhookconfigurations", false)
}

// waitAuthorized waits until the apiserver's authorizer, which learns of RBAC changes
// from its own watch, says whether "nobody" may use verb on the resource, so a test
// does not race the grant it just made, or the removal of an earlier test's grant.
func waitAuthorized(t *testing.T, verb, group, resource string, want bool) {
	t.Helper()
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               "nobody",
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource},
	}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := env.Client.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), review, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("asking whether nobody may %s %s: %v", verb, resource, err)
		}
		if got.Status.Allowed == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nobody may %s %s: %v after 10s, want %v", verb, resource, got.Status.Allowed, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The documented roles are enough: with only clankerd-read every check runs, with
// clankerd-write every task applies. (Not parallel: it changes what "nobody" may do.)
func TestDocumentedRBACIsEnough(t *testing.T) {
	cluster(t, Options{})
	ns := namespace(t)
	applyClusterRole(t, "clankerd-read.yaml")
	p := New(Options{Kubeconfig: env.NobodyKubeconfig})
	defer p.Close()
	for _, c := range p.checkList() {
		// Listing Secret names needs the opt-in clankerd-secrets.yaml
		// (TestSecretsRoleIsOptIn); the checks that can go without say how.
		raw := map[string]map[string]string{
			"k8s.refs.missing":   {"secrets": "false"},
			"k8s.ingress.broken": {"secrets": "false"},
			"k8s.changes.access": {"secrets": "false"},
		}[c.Spec().ID]
		if raw == nil && needsSecretsRole[c.Spec().ID] {
			continue
		}
		if _, err := run(t, p, c.Spec().ID, raw); err != nil {
			t.Errorf("%s with clankerd-read only: %v", c.Spec().ID, err)
		}
	}
	watching := New(Options{Kubeconfig: env.NobodyKubeconfig, Watch: true})
	defer watching.Close()
	if _, err := run(t, watching, "k8s.pods.unhealthy", nil); err != nil {
		t.Errorf("watching with clankerd-read only: %v", err)
	}

	deployment(t, ns, "api", 1, "", "")
	statefulSet(t, ns, "db", 1, "100m", "128Mi")
	node, err := env.Client.CoreV1().Nodes().Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: ns + "-n"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.CoreV1().Nodes().Delete(t.Context(), node.Name, metav1.DeleteOptions{}) })
	pod(t, ns, "victim", nil)
	m := plantest.New(t, p, time.Hour)
	items := []struct {
		id  string
		raw map[string]string
	}{
		{"k8s.deployment.scale", map[string]string{"deployment": ns + "/api", "replicas": "2"}},
		{"k8s.deployment.restart", map[string]string{"deployment": ns + "/api"}},
		{"k8s.statefulset.scale", map[string]string{"statefulset": ns + "/db", "replicas": "2"}},
		{"k8s.node.cordon", map[string]string{"node": node.Name}},
		{"k8s.pod.delete", map[string]string{"pod": ns + "/victim"}},
	}
	// Read-only: plans can be made, not applied.
	for _, it := range items {
		plan := m.Queue(t, m.Item(t, it.id, it.raw, ""))
		if _, err := m.Approve(t.Context(), plan.ID, "alice"); err == nil {
			t.Errorf("%s applied with the read role only", it.id)
		}
		if r := strings.Join(plan.RiskReasons, "; "); strings.Contains(r, "could not read") || strings.Contains(plan.Utilization, "forbidden") {
			t.Errorf("%s planned with the read role could not read its facts: %s; %s", it.id, r, plan.Utilization)
		}
	}
	// With the write role, each applies (planned right before its approval: applying
	// one deployment change makes plans made before it stale).
	applyClusterRole(t, "clankerd-write.yaml")
	for _, it := range items {
		plan := m.Queue(t, m.Item(t, it.id, it.raw, ""))
		if _, err := m.Approve(t.Context(), plan.ID, "alice"); err != nil {
			t.Errorf("%s with clankerd-write: %v", it.id, err)
		}
	}
}
