package kube

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/checks"
)

// Without the right to list a kind, a check says which.
func TestNetworkChecksNameTheMissingPermission(t *testing.T) {
	cluster(t, Options{})
	noGrants(t)
	p := New(Options{Kubeconfig: env.NobodyKubeconfig})
	defer p.Close()
	for id, want := range map[string]string{
		"k8s.webhooks.broken": `cannot list resource "validatingwebhookconfigurations"`,
		"k8s.ingress.broken":  `cannot list resource "ingresses"`,
		"k8s.certs.expiry":    `cannot list resource "secrets"`,
	} {
		// Grants another test removed may take a moment to leave the authorizer.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := run(t, p, id, nil)
			if err != nil && strings.Contains(err.Error(), "forbidden by RBAC") && strings.Contains(err.Error(), want) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s with no grants: %v; want forbidden naming %s", id, err, want)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// needsSecretsRole are the checks that list Secrets, which clankerd-read does not
// grant: they need the opt-in role in clankerd-secrets.yaml.
var needsSecretsRole = map[string]bool{"k8s.ingress.broken": true, "k8s.certs.expiry": true, "k8s.changes.access": true}

// Without the opt-in role, the checks that list Secrets fail naming the permission
// and the file that grants it; with it they run. (Not parallel: it changes what
// "nobody" may do.)
func TestSecretsRoleIsOptIn(t *testing.T) {
	cluster(t, Options{})
	noGrants(t)
	applyClusterRole(t, "clankerd-read.yaml")
	p := New(Options{Kubeconfig: env.NobodyKubeconfig})
	defer p.Close()
	for id := range needsSecretsRole {
		_, err := run(t, p, id, nil)
		if err == nil || !strings.Contains(err.Error(), "list secrets") || !strings.Contains(err.Error(), "contrib/kubernetes/clankerd-secrets.yaml") || !strings.Contains(err.Error(), `cannot list resource "secrets"`) {
			t.Errorf("%s without the secrets role: %v; want an error naming list secrets and clankerd-secrets.yaml", id, err)
		}
	}
	if _, err := run(t, p, "k8s.ingress.broken", map[string]string{"secrets": "false"}); err != nil {
		t.Errorf("k8s.ingress.broken secrets=false without the secrets role: %v", err)
	}
	applyClusterRole(t, "clankerd-secrets.yaml")
	role, err := env.Client.RbacV1().ClusterRoles().Get(t.Context(), "clankerd-secrets-read", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].Resources, []string{"secrets"}) || !slices.Equal(role.Rules[0].Verbs, []string{"list"}) {
		t.Errorf("clankerd-secrets-read grants %+v, want list on secrets only", role.Rules)
	}
	for id := range needsSecretsRole {
		if _, err := run(t, p, id, nil); err != nil {
			t.Errorf("%s with clankerd-secrets: %v", id, err)
		}
	}
}

// The network checks share their reads within a round: running them all again in
// the same round sends no request.
func TestNetworkChecksShareReads(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	service(t, ns, "web", nil)
	ingress(t, ns, "shop", "web", "80", withTLS("shop-tls"))
	reg := checks.NewRegistry()
	if err := p.Register(reg); err != nil {
		t.Fatal(err)
	}
	ctx := checks.WithRound(t.Context(), checks.NewRound())
	ids := []string{"k8s.ingress.broken", "k8s.certs.expiry", "k8s.webhooks.broken", "k8s.exposure.public", "k8s.services.noendpoints"}
	runAll := func() {
		for _, id := range ids {
			c, _ := reg.Check(id)
			params, err := c.Spec().Bind(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Run(ctx, params); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
	}
	runAll()
	before := p.Requests()
	runAll()
	if n := p.Requests() - before; n != 0 {
		t.Errorf("running %d checks again in the same round sent %d requests, want none", len(ids), n)
	}
}
