package kube

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clankerd/clankerd/checks"
)

// facts runs a change-tracking check and returns its facts as sorted
// "resource | key | severity", checking that each says what it means and what to do.
func facts(t *testing.T, p *Provider, id string, raw map[string]string) []string {
	t.Helper()
	res, err := run(t, p, id, raw)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	if res.Inventory == nil || len(res.Findings) > 0 {
		t.Fatalf("%s returned %d findings and inventory %v: a change-tracking check reports facts only", id, len(res.Findings), res.Inventory)
	}
	if res.Evidence["context"] != "test" {
		t.Errorf("%s: evidence %v has no context", id, res.Evidence)
	}
	out := make([]string, 0, len(res.Inventory.Facts))
	for _, f := range res.Inventory.Facts {
		if f.Summary == "" || f.Fix == "" {
			t.Errorf("%s: incomplete fact %+v", id, f)
		}
		out = append(out, f.Resource+" | "+f.Key+" | "+string(f.Severity))
	}
	return out // sorted by checks.Track
}

// expectChange compares what was added to and removed from the facts between two
// runs with what was planted, in any order.
func expectChange(t *testing.T, what string, before, after, added, removed []string) {
	t.Helper()
	minus := func(a, b []string) []string {
		var out []string
		for _, x := range a {
			if !slices.Contains(b, x) {
				out = append(out, x)
			}
		}
		return out
	}
	expect(t, what+" (added)", minus(after, before), added...)
	expect(t, what+" (removed)", minus(before, after), removed...)
}

// replicaPod creates a pod of a Deployment's ReplicaSet, as its controller would.
func replicaPod(t *testing.T, ns, deployment, hash, suffix string, hostNetwork bool) string {
	t.Helper()
	rs := deployment + "-" + hash
	name := rs + "-" + suffix
	pod(t, ns, name, func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": deployment, "pod-template-hash": hash}
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs, UID: types.UID("uid-" + rs), Controller: ptr(true)}}
		p.Spec.HostNetwork = hostNetwork
	})
	return name
}

func TestChangesExposure(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	before := facts(t, p, "k8s.changes.exposure", nil)
	if again := facts(t, p, "k8s.changes.exposure", nil); !slices.Equal(before, again) {
		t.Fatalf("two runs with nothing changed differ:\n%q\n%q", before, again)
	}

	// Healthy look-alikes: nothing leaves the cluster through them.
	service(t, ns, "internal", nil)
	service(t, ns, "headless", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })
	service(t, ns, "elsewhere", func(s *corev1.Service) {
		s.Spec.Type, s.Spec.ExternalName, s.Spec.Selector, s.Spec.Ports = corev1.ServiceTypeExternalName, "api.example.net", nil, nil
	})
	service(t, ns, "manual", func(s *corev1.Service) { s.Spec.Selector = nil })
	deploymentWith(t, ns, "web", podTemplate("web").Spec)
	replicaPod(t, ns, "web", "5d8f7c9b4", "abcde", false)

	// Planted exposure.
	service(t, ns, "np", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30080
	})
	service(t, ns, "lb", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports = []corev1.ServicePort{{Name: "https", Port: 443}}
	})
	service(t, ns, "office", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports = []corev1.ServicePort{{Name: "https", Port: 443}}
		s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24", "10.1.0.0/16"}
	})
	service(t, ns, "private", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Annotations = map[string]string{"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal", "team": "shop"}
	})
	ingress(t, ns, "plain", "internal", "80", nil)
	ingress(t, ns, "secure", "internal", "80", func(i *networkingv1.Ingress) {
		i.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"*.example.com"}, SecretName: "wild"}}
		i.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "internal", Port: networkingv1.ServiceBackendPort{Number: 80}}}
	})
	agent := podTemplate("agent")
	agent.Spec.HostNetwork = true
	if _, err := env.Client.AppsV1().DaemonSets(ns).Create(t.Context(), &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns},
		Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}, Template: agent},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod(t, ns, "debug", func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8080}, {ContainerPort: 9090}}
	})
	pod(t, ns, "sniffer", func(p *corev1.Pod) { p.Spec.HostNetwork = true })
	// A CronJob's Job and its pod are the CronJob's: its runs come and go, the fact stays.
	cj := cronJob(t, ns, "backup", "0 3 * * *", func(s *batchv1.CronJobSpec) {
		s.JobTemplate.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 873, HostPort: 873}}
	}, nil)
	runOf := cj.Spec.JobTemplate.Spec.Template
	runOf.Labels = map[string]string{"job": "backup-29000000"}
	job, err := env.Client.BatchV1().Jobs(ns).Create(t.Context(), &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "backup-29000000", OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "backup", UID: cj.UID, Controller: ptr(true)}}},
		Spec:       batchv1.JobSpec{Template: runOf, Selector: &metav1.LabelSelector{MatchLabels: runOf.Labels}, ManualSelector: ptr(true)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod(t, ns, "backup-29000000-abcde", func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID, Controller: ptr(true)}}
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 873, HostPort: 873}}
	})

	planted := []string{
		"service/" + ns + "/np | NodePort 80/TCP on node port 30080 | medium",
		"service/" + ns + "/lb | LoadBalancer 443/TCP from 0.0.0.0/0 | high",
		"service/" + ns + "/office | LoadBalancer 443/TCP from 10.1.0.0/16 | low",
		"service/" + ns + "/private | internal LoadBalancer 80/TCP from 0.0.0.0/0 | low",
		"service/" + ns + "/office | LoadBalancer 443/TCP from 203.0.113.0/24 | medium",
		"ingress/" + ns + "/plain | http://plain.example.com/ | medium",
		"ingress/" + ns + "/secure | https://secure.example.com/ | low",
		"ingress/" + ns + "/secure | http://*/ | medium",
		"daemonset/" + ns + "/agent | hostNetwork | high",
		"pod/" + ns + "/debug | hostPort 8080/TCP | medium",
		"pod/" + ns + "/sniffer | hostNetwork | high",
		"cronjob/" + ns + "/backup | hostPort 873/TCP | medium",
	}
	after := facts(t, p, "k8s.changes.exposure", nil)
	expectChange(t, "after planting", before, after, planted, nil)
	if again := facts(t, p, "k8s.changes.exposure", nil); !slices.Equal(after, again) {
		t.Errorf("two runs with nothing changed differ:\n%q\n%q", after, again)
	}
	watching := cluster(t, Options{Watch: true})
	if got := facts(t, watching, "k8s.changes.exposure", nil); !slices.Equal(after, got) {
		t.Errorf("from the watch cache:\n got %q\nwant %q", got, after)
	}
	inNS := facts(t, p, "k8s.changes.exposure", map[string]string{"namespace": ns})
	expect(t, "namespace="+ns, inNS, planted...)

	// A rollout of a hostNetwork Deployment renames its pods: no new fact.
	hosted := podTemplate("api")
	hosted.Spec.HostNetwork = true
	deploymentWith(t, ns, "api", hosted.Spec)
	old := replicaPod(t, ns, "api", "7c6b5d4f8", "x1y2z", true)
	withAPI := facts(t, p, "k8s.changes.exposure", nil)
	expectChange(t, "a hostNetwork deployment", after, withAPI, []string{"deployment/" + ns + "/api | hostNetwork | high"}, nil)
	if err := env.Client.CoreV1().Pods(ns).Delete(t.Context(), old, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
		t.Fatal(err)
	}
	replicaPod(t, ns, "api", "9f8e7d6c5", "q7w8e", true)
	expectChange(t, "after the rollout", withAPI, facts(t, p, "k8s.changes.exposure", nil), nil, nil)

	// Removing what was planted removes its facts.
	core := env.Client.CoreV1()
	for _, name := range []string{"np", "lb", "office", "private"} {
		if err := core.Services(ns).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"plain", "secure"} {
		if err := env.Client.NetworkingV1().Ingresses(ns).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.BatchV1().CronJobs(ns).Delete(t.Context(), "backup", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.AppsV1().DaemonSets(ns).Delete(t.Context(), "agent", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.AppsV1().Deployments(ns).Delete(t.Context(), "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"debug", "sniffer"} {
		if err := core.Pods(ns).Delete(t.Context(), name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
			t.Fatal(err)
		}
	}
	// The api pod stays (no garbage collector runs here); it is its Deployment's, whose
	// template is gone.
	expectChange(t, "after the removals", before, facts(t, p, "k8s.changes.exposure", nil), nil, nil)
}

// Gateway listeners are facts where the Gateway API is served, and the check says when
// it is not.
func TestChangesExposureGateways(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	servedNote(t, p, "k8s.changes.exposure", "gateways", ns)
	installCRDs(t, "gateway-api-crds.yaml")
	createCustom(t, gatewaysResource, ns, map[string]any{"kind": "Gateway", "metadata": map[string]any{"name": "public"},
		"spec": map[string]any{"gatewayClassName": "example", "listeners": []any{
			map[string]any{"name": "http", "port": int64(80), "protocol": "HTTP"},
			map[string]any{"name": "https", "port": int64(443), "protocol": "HTTPS", "hostname": "*.example.com",
				"tls": map[string]any{"certificateRefs": []any{map[string]any{"name": "wild"}}}},
		}}})
	expect(t, "gateway listeners", facts(t, p, "k8s.changes.exposure", map[string]string{"namespace": ns}),
		"gateway/"+ns+"/public | listener http HTTP 80 host * | medium",
		"gateway/"+ns+"/public | listener https HTTPS 443 host *.example.com | low",
	)
}

func TestChangesAccess(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	rbac := env.Client.RbacV1()
	core := env.Client.CoreV1()
	// A ClusterRole that exists before, and gains * later.
	widening := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}},
	}
	widening, err := rbac.ClusterRoles().Create(t.Context(), widening, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rbac.ClusterRoles().Delete(context.Background(), widening.Name, metav1.DeleteOptions{}) })
	if _, err := core.ServiceAccounts(ns).Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := facts(t, p, "k8s.changes.access", nil)
	if !slices.Contains(before, "clusterrole/"+widening.Name+" | get pods | low") {
		t.Fatalf("the role's grant is not a fact: %q", before)
	}
	if again := facts(t, p, "k8s.changes.access", nil); !slices.Equal(before, again) {
		t.Fatalf("two runs with nothing changed differ:\n%q\n%q", before, again)
	}

	bind := func(name, roleKind, role string, sub rbacv1.Subject) {
		t.Helper()
		if _, err := rbac.RoleBindings(ns).Create(t.Context(), &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: roleKind, Name: role},
			Subjects:   []rbacv1.Subject{sub},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deployer := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "deployer", Namespace: ns}
	alice := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: ns + "-alice"}
	bind("deployer-edit", "ClusterRole", "edit", deployer)
	if _, err := rbac.Roles(ns).Create(t.Context(), &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "releaser"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"create", "get"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"db-creds"}, Verbs: []string{"get"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind("alice-releaser", "Role", "releaser", alice)
	admins := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-admins"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: ns + "-admins"}},
	}
	if _, err := rbac.ClusterRoleBindings().Create(t.Context(), admins, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = rbac.ClusterRoleBindings().Delete(context.Background(), admins.Name, metav1.DeleteOptions{})
	})
	widening.Rules = append(widening.Rules, rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}})
	if widening, err = rbac.ClusterRoles().Update(t.Context(), widening, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Secrets(ns).Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "deployer-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "deployer"}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Look-alikes: a Secret of another type.
	refTargets(t, ns, nil, []string{"db-creds"}, nil, nil)

	planted := []string{
		"serviceaccount/" + ns + "/deployer | clusterrole/edit in namespace " + ns + " | high",
		"serviceaccount/" + ns + "/deployer | token secret deployer-token | medium",
		"role/" + ns + "/releaser | create apps/deployments | medium",
		"role/" + ns + "/releaser | get apps/deployments | low",
		"role/" + ns + "/releaser | get secrets named db-creds | high",
		"user/" + ns + "-alice | role/" + ns + "/releaser in namespace " + ns + " | high",
		"group/" + ns + "-admins | clusterrole/cluster-admin cluster-wide | critical",
		"clusterrole/" + widening.Name + " | * */* | high",
	}
	after := facts(t, p, "k8s.changes.access", nil)
	expectChange(t, "after planting", before, after, planted, nil)
	if again := facts(t, p, "k8s.changes.access", nil); !slices.Equal(after, again) {
		t.Errorf("two runs with nothing changed differ:\n%q\n%q", after, again)
	}
	watching := cluster(t, Options{Watch: true})
	if got := facts(t, watching, "k8s.changes.access", nil); !slices.Equal(after, got) {
		t.Errorf("from the watch cache:\n got %q\nwant %q", got, after)
	}

	// Renaming a binding changes no access.
	if err := rbac.RoleBindings(ns).Delete(t.Context(), "deployer-edit", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	bind("deployer-can-edit", "ClusterRole", "edit", deployer)
	expectChange(t, "after renaming a binding", after, facts(t, p, "k8s.changes.access", nil), nil, nil)

	// secrets=false leaves the tokens out and says so.
	res, err := run(t, p, "k8s.changes.access", map[string]string{"secrets": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Evidence["serviceaccount_tokens"], "not checked") {
		t.Errorf("secrets=false: evidence %v does not say the tokens were not checked", res.Evidence)
	}
	for _, f := range res.Inventory.Facts {
		if strings.HasPrefix(f.Key, "token secret ") {
			t.Errorf("secrets=false reported %s %s", f.Resource, f.Key)
		}
	}

	// Reverting removes the facts.
	widening.Rules = widening.Rules[:1]
	if _, err := rbac.ClusterRoles().Update(t.Context(), widening, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rbac.ClusterRoleBindings().Delete(t.Context(), admins.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"deployer-can-edit", "alice-releaser"} {
		if err := rbac.RoleBindings(ns).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rbac.Roles(ns).Delete(t.Context(), "releaser", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := core.Secrets(ns).Delete(t.Context(), "deployer-token", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expectChange(t, "after reverting", before, facts(t, p, "k8s.changes.access", nil), nil, nil)
}

// The severity of a grant follows what it lets a subject do.
func TestGrantSeverity(t *testing.T) {
	for _, tc := range []struct {
		verb, group, resource string
		want                  checks.Severity
	}{
		{"get", "", "pods", checks.Low},
		{"list", "apps", "deployments", checks.Low},
		{"create", "apps", "deployments", checks.Medium},
		{"delete", "", "pods", checks.Medium},
		{"*", "", "pods", checks.High},
		{"get", "*", "*", checks.High},
		{"get", "", "secrets", checks.High},
		{"create", "", "secrets", checks.Medium},
		{"create", "", "pods/exec", checks.High},
		{"create", "", "serviceaccounts/token", checks.High},
		{"get", "", "nodes/proxy", checks.High},
		{"bind", "rbac.authorization.k8s.io", "clusterroles", checks.High},
		{"escalate", "rbac.authorization.k8s.io", "roles", checks.High},
		{"impersonate", "", "users", checks.High},
		{"get", "example.com", "secrets", checks.Low},
	} {
		if got := grantSeverity(tc.verb, tc.group, tc.resource); got != tc.want {
			t.Errorf("%s %s/%s: %s, want %s", tc.verb, tc.group, tc.resource, got, tc.want)
		}
	}
}

// Without the right to list a kind, a change-tracking check fails naming it: an empty
// inventory would say that everything was removed.
func TestChangesNameTheMissingPermission(t *testing.T) {
	cluster(t, Options{})
	noGrants(t)
	p := New(Options{Kubeconfig: env.NobodyKubeconfig})
	defer p.Close()
	for id, want := range map[string]string{
		"k8s.changes.exposure": `cannot list resource "services"`,
		"k8s.changes.access":   `cannot list resource "clusterroles"`,
	} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, err := run(t, p, id, nil)
			if err != nil && strings.Contains(err.Error(), "forbidden by RBAC") && strings.Contains(err.Error(), want) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s with no grants: %v (inventory %v); want forbidden naming %s", id, err, res.Inventory, want)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// The change-tracking checks read what the other checks of the round read: after
// them, only Roles and the ServiceAccount token Secrets are new requests, and a second
// run in the same round sends none.
func TestChangesShareReads(t *testing.T) {
	p := cluster(t, Options{})
	reg := checks.NewRegistry()
	if err := p.Register(reg); err != nil {
		t.Fatal(err)
	}
	ctx := checks.WithRound(t.Context(), checks.NewRound())
	runAll := func(ids ...string) {
		t.Helper()
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
	runAll("k8s.exposure.public", "k8s.rbac.clusteradmin", "k8s.refs.missing", "k8s.ingress.broken")
	before := p.Requests()
	runAll("k8s.changes.exposure", "k8s.changes.access")
	if n := p.Requests() - before; n != 2 {
		t.Errorf("the change-tracking checks after the others sent %d requests, want 2 (roles, token secrets)", n)
	}
	before = p.Requests()
	runAll("k8s.changes.exposure", "k8s.changes.access")
	if n := p.Requests() - before; n != 0 {
		t.Errorf("running them again in the same round sent %d requests, want none", n)
	}
}

// A role's rules expand into one grant per verb and resource (or name, or URL).
func TestGrants(t *testing.T) {
	got := grants([]rbacv1.PolicyRule{
		{APIGroups: []string{"", "apps"}, Resources: []string{"pods"}, Verbs: []string{"get", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"a", "b"}, Verbs: []string{"get"}},
		{NonResourceURLs: []string{"/metrics", "/healthz/*"}, Verbs: []string{"get", "post"}},
	})
	var keys []string
	for _, g := range got {
		keys = append(keys, g.key+" | "+string(g.severity))
	}
	expect(t, "grants", keys,
		"get pods | low", "get apps/pods | low", "delete pods | medium", "delete apps/pods | medium",
		"get secrets named a | high", "get secrets named b | high",
		"get nonResourceURL /metrics | low", "get nonResourceURL /healthz/* | low",
		"post nonResourceURL /metrics | medium", "post nonResourceURL /healthz/* | medium",
	)
}

func TestTLSCovers(t *testing.T) {
	tls := []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com", "*.apps.example.com"}}}
	for host, want := range map[string]bool{
		"shop.example.com":     true,
		"api.apps.example.com": true,
		"a.b.apps.example.com": false, // a wildcard covers one label
		"apps.example.com":     false,
		"other.example.com":    false,
		"*":                    false,
	} {
		if got := tlsCovers(tls, host); got != want {
			t.Errorf("%s: covered %v, want %v", host, got, want)
		}
	}
	if !tlsCovers([]networkingv1.IngressTLS{{SecretName: "default"}}, "any.example.com") {
		t.Error("a TLS block without hosts covers every host")
	}
}

func TestSourceRangeSeverity(t *testing.T) {
	for cidr, want := range map[string]checks.Severity{
		"0.0.0.0/0":      checks.High,
		"::/0":           checks.High,
		"10.1.0.0/16":    checks.Low,
		"192.168.0.0/24": checks.Low,
		"fd00::/8":       checks.Low,
		"203.0.113.0/24": checks.Medium,
		"not a range":    checks.Medium,
	} {
		if got := sourceRangeSeverity(cidr); got != want {
			t.Errorf("%s: %s, want %s", cidr, got, want)
		}
	}
}
