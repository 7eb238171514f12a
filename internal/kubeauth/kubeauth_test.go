package kubeauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/testenv/checktest"
	"github.com/clankerd/clankerd/internal/testenv/kubetest"
	"github.com/clankerd/clankerd/internal/testenv/testnet"
)

var (
	kube       *kubetest.Env
	kubeReason string
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m, &kube, &kubeReason)) }

// counted is an admin client of the test apiserver that counts its requests.
func counted(t *testing.T) (kubernetes.Interface, *atomic.Int32) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kube.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) { n.Add(1); return rt.RoundTrip(r) })
	})
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, &n
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var namespaces atomic.Int32

// serviceAccount creates a ServiceAccount in a new namespace, bound cluster-wide to
// the contrib ClusterRole role ("" none), and returns its name as Kubernetes users
// it and a TokenRequest token of it.
func serviceAccount(t *testing.T, role string) (user, token string) {
	t.Helper()
	ns := fmt.Sprintf("kubeauth-%d", namespaces.Add(1))
	core, rbac := kube.Client.CoreV1(), kube.Client.RbacV1()
	ctx := context.Background()
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if role != "" {
		applyRole(t, role)
		b := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "sa", Namespace: ns}},
		}
		if _, err := rbac.ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rbac.ClusterRoleBindings().Delete(context.Background(), b.Name, metav1.DeleteOptions{}) })
	}
	tok, err := core.ServiceAccounts(ns).CreateToken(ctx, "sa", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	return "system:serviceaccount:" + ns + ":sa", tok.Status.Token
}

// applyRole creates (or keeps) the ClusterRole of contrib/kubernetes/ROLE.yaml.
func applyRole(t *testing.T, role string) {
	t.Helper()
	_, err := kube.Client.RbacV1().ClusterRoles().Create(context.Background(), kubetest.ContribClusterRole(t, role), metav1.CreateOptions{})
	if err != nil && !isAlreadyExists(err) {
		t.Fatal(err)
	}
}

// TestAuthenticate: a ServiceAccount token and a static token are reviewed into
// their user names and groups; an unknown token is ErrUnauthenticated; an accepted
// token is reviewed again only after TTL, and its raw value is not what is kept.
func TestAuthenticate(t *testing.T) {
	kubetest.Require(t, kube, kubeReason)
	client, reviews := counted(t)
	clk := checktest.NewClock(time.Now())
	a := &Authenticator{Client: client, Now: clk.Now}
	user, token := serviceAccount(t, "")
	c, err := a.Authenticate(t.Context(), token)
	if err != nil {
		t.Fatal(err)
	}
	if c.User != user || !slices.Contains(c.Groups, "system:serviceaccounts") || c.UID == "" {
		t.Errorf("caller = %+v, want %s in system:serviceaccounts with a uid", c, user)
	}
	if _, err := a.Authenticate(t.Context(), token); err != nil || reviews.Load() != 1 {
		t.Errorf("second Authenticate: %v after %d reviews, want 1 (cached)", err, reviews.Load())
	}
	clk.Advance(DefaultTTL)
	if _, err := a.Authenticate(t.Context(), token); err != nil || reviews.Load() != 2 {
		t.Errorf("after the TTL: %v after %d reviews, want 2", err, reviews.Load())
	}
	for k := range a.cache.entries {
		if string(k[:]) == token {
			t.Error("the raw token is a cache key")
		}
	}

	nobody, err := clientcmd.BuildConfigFromFlags("", kube.NobodyKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := a.Authenticate(t.Context(), nobody.BearerToken); err != nil || c.User != "nobody" {
		t.Errorf("static token: %+v %v, want nobody", c, err)
	}
	if _, err := a.Authenticate(t.Context(), "not-a-token"); !errors.Is(err, control.ErrUnauthenticated) {
		t.Errorf("unknown token: %v, want ErrUnauthenticated", err)
	}
}

// TestAuthorize: the shipped ClusterRoles decide, through SubjectAccessReviews on
// clankerd.dev; decisions are cached for TTL.
func TestAuthorize(t *testing.T) {
	kubetest.Require(t, kube, kubeReason)
	client, reviews := counted(t)
	clk := checktest.NewClock(time.Now())
	authn := &Authenticator{Client: client}
	z := &Authorizer{Client: client, Now: clk.Now}
	callers := map[string]control.Caller{}
	for _, role := range []string{"clankerd-viewer", "clankerd-proposer", "clankerd-approver", ""} {
		_, token := serviceAccount(t, role)
		c, err := authn.Authenticate(t.Context(), token)
		if err != nil {
			t.Fatal(err)
		}
		callers[role] = c
	}
	tests := []struct {
		role string
		a    control.Access
		want bool
	}{
		{"clankerd-viewer", control.Access{Verb: "list", Resource: "findings"}, true},
		{"clankerd-viewer", control.Access{Verb: "list", Resource: "plans"}, true},
		{"clankerd-viewer", control.Access{Verb: "approve", Resource: "plans"}, false},
		{"clankerd-viewer", control.Access{Verb: "create", Resource: "plans"}, false},
		{"clankerd-proposer", control.Access{Verb: "create", Resource: "plans"}, true},
		{"clankerd-proposer", control.Access{Verb: "approve", Resource: "plans"}, false},
		{"clankerd-approver", control.Access{Verb: "approve", Resource: "plans"}, true},
		{"clankerd-approver", control.Access{Verb: "create", Resource: "mutes"}, true},
		{"", control.Access{Verb: "list", Resource: "findings"}, false},
	}
	for _, tt := range tests {
		got, err := z.Authorize(t.Context(), callers[tt.role], tt.a)
		if err != nil || got != tt.want {
			t.Errorf("%q %s: %v %v, want %v", tt.role, tt.a, got, err, tt.want)
		}
	}
	before := reviews.Load()
	if ok, err := z.Authorize(t.Context(), callers["clankerd-viewer"], control.Access{Verb: "approve", Resource: "plans"}); ok || err != nil || reviews.Load() != before {
		t.Errorf("repeated denial: %v %v after %d more reviews, want a cached denial", ok, err, reviews.Load()-before)
	}
	clk.Advance(DefaultTTL)
	if _, err := z.Authorize(t.Context(), callers["clankerd-viewer"], control.Access{Verb: "approve", Resource: "plans"}); err != nil || reviews.Load() != before+1 {
		t.Errorf("after the TTL: %v after %d more reviews, want 1", err, reviews.Load()-before)
	}
}

// TestReviewsUnavailable: with the apiserver unreachable, neither review allows
// anything, and neither failure is taken for a refused token.
func TestReviewsUnavailable(t *testing.T) {
	client, err := kubernetes.NewForConfig(&rest.Config{Host: "https://" + testnet.ClosedPort(t), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Authenticator{Client: client}).Authenticate(t.Context(), "token"); err == nil || errors.Is(err, control.ErrUnauthenticated) {
		t.Errorf("Authenticate with the apiserver down: %v, want an error other than ErrUnauthenticated", err)
	}
	ok, err := (&Authorizer{Client: client}).Authorize(t.Context(), control.Caller{User: "alice"}, control.Access{Verb: "approve", Resource: "plans"})
	if ok || err == nil {
		t.Errorf("Authorize with the apiserver down: %v %v, want an error and no", ok, err)
	}
}

func isAlreadyExists(err error) bool { return apierrors.IsAlreadyExists(err) }
