package leader

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clankerd/clankerd/internal/testenv/kubetest"
)

// Short durations so a test takes seconds: others wait 2s after the last renewal. A
// leader that cannot renew stops at the latest RetryPeriod + RenewDeadline (+ the API's
// latency) after its last renewal, so LeaseDuration - RenewDeadline - RetryPeriod is the
// margin that keeps two from leading at once: 0.7s here (3s with the defaults).
const (
	testLease = 2 * time.Second
	testRenew = 1 * time.Second
	testRetry = 300 * time.Millisecond
)

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("lease-%d", time.Now().UnixNano())
	if _, err := kube.Client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // t.Context() is done by then
		_ = kube.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

func testKubeLease(client kubernetes.Interface, ns, id string, release bool) *KubeLease {
	return &KubeLease{
		Client: client, Namespace: ns, Identity: id,
		LeaseDuration: testLease, RenewDeadline: testRenew, RetryPeriod: testRetry,
		ReleaseOnCancel: release,
	}
}

func TestKubeLeaseHandover(t *testing.T) {
	kubetest.Require(t, kube, kubeReason)
	tests := []struct {
		name    string
		release bool
		// the new leader starts leading between min and max after the old one's Run is
		// cancelled
		min, max time.Duration
	}{
		// Released: the other takes over at its next retry.
		{"released on cancel", true, 0, 2*testRetry + time.Second},
		// kill -9: nothing released, the other waits for the lease to expire.
		{"killed without release", false, testLease / 2, testLease + 2*testRetry + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t)
			var l leaders
			a := start(t, "a", testKubeLease(kube.Client, ns, "a", tt.release), &l)
			b := start(t, "b", testKubeLease(kube.Client, ns, "b", tt.release), &l)
			first, _ := l.waitLeader(t, "", 10*time.Second)
			checkOne(t, first, a, b)
			old, next := a, b
			if first == "b" {
				old, next = b, a
			}
			// Let the leader renew a few times: the follower must keep waiting.
			time.Sleep(2 * testLease)
			if who, _ := l.current(); who != first {
				t.Fatalf("leadership moved from %s to %q without a failure", first, who)
			}
			killed := time.Now()
			old.stop(t)
			who, since := l.waitLeader(t, first, tt.max+5*time.Second)
			took := since.Sub(killed)
			t.Logf("%s took over %v after %s's Run was cancelled, %v after it stopped leading", who, took, first, l.gap(since))
			if who != next.id {
				t.Fatalf("new leader %q, want %s", who, next.id)
			}
			if took < tt.min || took > tt.max {
				t.Errorf("handover took %v, want between %v and %v", took, tt.min, tt.max)
			}
			checkOne(t, next.id, next)
			if old.e.IsLeader() {
				t.Errorf("%s still reports leading after its Run returned", old.id)
			}
			next.stop(t)
			if n := l.now.Load(); n != 0 {
				t.Errorf("%d lead calls still running after every Run returned", n)
			}
			if l.overlap.Load() {
				t.Error("two replicas led at the same time")
			}
		})
	}
}

// leaseServiceAccount creates, in ns, the ServiceAccount, Role and RoleBinding of
// contrib/kubernetes/clankerd-lease.yaml and returns a client with a TokenRequest
// token of that ServiceAccount, and the binding's name.
func leaseServiceAccount(t *testing.T, ns string) (kubernetes.Interface, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "contrib", "kubernetes", "clankerd-lease.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.Role
	var binding rbacv1.RoleBinding
	docs := strings.Split(string(data), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("clankerd-lease.yaml has %d documents, want a Role and a RoleBinding", len(docs))
	}
	for i, into := range []any{&role, &binding} {
		if err := yaml.UnmarshalStrict([]byte(docs[i]), into); err != nil {
			t.Fatalf("clankerd-lease.yaml document %d: %v", i+1, err)
		}
	}
	if role.Kind != "Role" || binding.Kind != "RoleBinding" || binding.RoleRef.Name != role.Name {
		t.Fatalf("clankerd-lease.yaml: want a Role and a RoleBinding to it, got %s %s -> %s", role.Kind, binding.Kind, binding.RoleRef.Name)
	}
	for _, r := range role.Rules {
		for _, v := range r.Verbs {
			if v != "get" && v != "create" && v != "update" {
				t.Errorf("clankerd-lease.yaml grants %s on %v: the Lease needs only get, create and update", v, r.Resources)
			}
		}
		if len(r.APIGroups) != 1 || r.APIGroups[0] != "coordination.k8s.io" || len(r.Resources) != 1 || r.Resources[0] != "leases" {
			t.Errorf("clankerd-lease.yaml grants %v on %v: only coordination.k8s.io leases", r.APIGroups, r.Resources)
		}
	}
	// The template's namespace is the test's.
	role.Namespace, binding.Namespace = ns, ns
	for i := range binding.Subjects {
		binding.Subjects[i].Namespace = ns
	}
	sa := binding.Subjects[0].Name
	core, rbac := kube.Client.CoreV1(), kube.Client.RbacV1()
	if _, err := core.ServiceAccounts(ns).Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.Roles(ns).Create(t.Context(), &role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.RoleBindings(ns).Create(t.Context(), &binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := core.ServiceAccounts(ns).CreateToken(t.Context(), sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, sa, err)
	}
	admin, err := clientcmd.BuildConfigFromFlags("", kube.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(admin)
	cfg.BearerToken = tok.Status.Token
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client, binding.Name
}

// TestKubeLeaseLeastPrivilege elects with a ServiceAccount bound only to
// contrib/kubernetes/clankerd-lease.yaml, through a token from the TokenRequest API.
func TestKubeLeaseLeastPrivilege(t *testing.T) {
	kubetest.Require(t, kube, kubeReason)
	ns := newNamespace(t)
	client, _ := leaseServiceAccount(t, ns)
	// The token reaches nothing but its Lease.
	if _, err := client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{}); err == nil {
		t.Error("the lease ServiceAccount can list pods: it must only reach its Lease")
	}
	var l leaders
	r := start(t, "sa", testKubeLease(client, ns, "sa", true), &l)
	who, _ := l.waitLeader(t, "", 15*time.Second)
	checkOne(t, who, r)
	lease, err := kube.Client.CoordinationV1().Leases(ns).Get(t.Context(), DefaultName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "sa" {
		t.Errorf("Lease %s/%s holder = %v, want sa", ns, DefaultName, lease.Spec.HolderIdentity)
	}
	r.stop(t)
	lease, err = kube.Client.CoordinationV1().Leases(ns).Get(t.Context(), DefaultName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" {
		t.Errorf("after Run returned with ReleaseOnCancel, the Lease is still held by %q", *lease.Spec.HolderIdentity)
	}
}

// TestKubeLeaseRenewalFails: a leader that can no longer renew (its RoleBinding is
// deleted) stops leading within the renew deadline, before the other takes over.
func TestKubeLeaseRenewalFails(t *testing.T) {
	kubetest.Require(t, kube, kubeReason)
	ns := newNamespace(t)
	client, binding := leaseServiceAccount(t, ns)
	var l leaders
	sa := start(t, "sa", testKubeLease(client, ns, "sa", true), &l)
	if who, _ := l.waitLeader(t, "", 15*time.Second); who != "sa" {
		t.Fatalf("leader %q, want sa", who)
	}
	admin := start(t, "admin", testKubeLease(kube.Client, ns, "admin", true), &l)
	time.Sleep(2 * testRetry)
	revoked := time.Now()
	if err := kube.Client.RbacV1().RoleBindings(ns).Delete(t.Context(), binding, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testRenew + testLease + 5*time.Second)
	for sa.e.IsLeader() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if sa.e.IsLeader() {
		t.Fatal("sa still leads although it cannot renew its Lease")
	}
	t.Logf("sa stopped leading %v after its RoleBinding was deleted", time.Since(revoked))
	who, since := l.waitLeader(t, "sa", testLease+5*time.Second)
	if who != "admin" {
		t.Fatalf("new leader %q, want admin", who)
	}
	t.Logf("admin took over %v after the RoleBinding was deleted, %v after sa stopped", since.Sub(revoked), l.gap(since))
	checkOne(t, "admin", admin)
	if l.overlap.Load() {
		t.Error("two replicas led at the same time")
	}
}
