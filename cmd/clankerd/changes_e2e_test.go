//go:build !clankerd_nokube

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func mustCreate(t *testing.T, err error) {
	t.Helper()
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// TestChangeTrackingThroughCLI is issue 15's story on the real apiserver: a baseline is
// recorded, changes become findings with their severity, reverting resolves, accept
// silences and is audited, a removal is told once, questions carry the change log, and
// an error run changes no baseline.
func TestChangeTrackingThroughCLI(t *testing.T) {
	kenv := startKube(t)
	ctx, c := t.Context(), kenv.Client
	for _, ns := range []string{"shop", "ci", "prod"} {
		_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		mustCreate(t, err)
	}
	nodePort := func(name string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}}
	}
	_, err := c.CoreV1().Services("shop").Create(ctx, nodePort("legacy"), metav1.CreateOptions{})
	mustCreate(t, err)

	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, "---\nkube_context: test\n---\n## Hourly\n- `k8s.changes.exposure`\n- `k8s.changes.access`\n")
	envs := []string{"KUBECONFIG=" + kenv.Kubeconfig}

	code, fs, notes := trackedFindings(t, envs, state, hb)
	if code != 0 || len(fs) != 0 {
		t.Fatalf("first run: exit %d, findings %v, want 0 and none (%v)", code, fs, notes)
	}
	for _, id := range []string{"k8s.changes.exposure", "k8s.changes.access"} {
		if !strings.HasPrefix(notes[id], "pass: recorded") {
			t.Errorf("%s first run: %q, want a pass that says the baseline was recorded", id, notes[id])
		}
	}

	// The changes.
	_, err = c.CoreV1().Services("shop").Create(ctx, nodePort("admin"), metav1.CreateOptions{})
	mustCreate(t, err)
	prefix := networkingv1.PathTypePrefix
	_, err = c.NetworkingV1().Ingresses("shop").Create(ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "legacy", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}},
	}, metav1.CreateOptions{})
	mustCreate(t, err)
	_, err = c.CoreV1().ServiceAccounts("ci").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: "ci"}}, metav1.CreateOptions{})
	mustCreate(t, err)
	_, err = c.RbacV1().RoleBindings("prod").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "deployer-edit", Namespace: "prod"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "edit"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "deployer", Namespace: "ci"}}}, metav1.CreateOptions{})
	mustCreate(t, err)
	_, err = c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "widening"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}}, metav1.CreateOptions{})
	mustCreate(t, err)
	// The ClusterRole exists before the next run as a new resource; make it gain * afterwards.
	code, fs, notes = trackedFindings(t, envs, state, hb)
	if code != 1 {
		t.Fatalf("after the changes: exit %d, want 1 (%v)", code, notes)
	}
	for res, atLeast := range map[string]int{"service/shop/admin": rank("medium"), "ingress/shop/web": rank("medium"),
		"serviceaccount/ci/deployer": rank("medium"), "clusterrole/widening": rank("low")} {
		f, ok := fs[res]
		switch {
		case !ok:
			t.Errorf("no finding on %s; findings %v", res, fs)
		case f.Problem != "beyond_baseline" || f.State != "new" || rank(f.Severity) < atLeast:
			t.Errorf("%s: %+v, want a new beyond_baseline finding at least %d", res, f, atLeast)
		}
	}
	if f, ok := fs["service/shop/legacy"]; ok {
		t.Errorf("the baseline's own NodePort is a finding: %+v", f)
	}
	cr, err := c.RbacV1().ClusterRoles().Get(ctx, "widening", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cr.Rules = append(cr.Rules, rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}})
	if _, err := c.RbacV1().ClusterRoles().Update(ctx, cr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	code, fs, _ = trackedFindings(t, envs, state, hb)
	if f := fs["clusterrole/widening"]; code != 1 || f.State != "changed" || rank(f.Severity) < rank("high") {
		t.Errorf("a ClusterRole that gained *: %+v (exit %d), want its finding changed to high or critical", f, code)
	}

	// What changed, and a question about it.
	var changes struct {
		Changes []struct {
			Kind, Resource, Check string
		}
	}
	jsonOut(t, state, 0, &changes, "changes", "--since", "1h", "-o", "json")
	var added []string
	for _, ch := range changes.Changes {
		if ch.Kind == "added" || ch.Kind == "widened" {
			added = append(added, ch.Resource)
		}
	}
	for _, res := range []string{"service/shop/admin", "ingress/shop/web", "serviceaccount/ci/deployer", "clusterrole/widening"} {
		if !slices.Contains(added, res) {
			t.Errorf("changes: no addition of %s in %v", res, changes)
		}
	}
	r := cliEnv(t, envs, state, "ask", "any new public endpoints?", "-o", "json")
	var ans struct {
		Routes []struct {
			Check string `json:"check"`
		} `json:"routes"`
		Changes []struct {
			Resource string `json:"resource"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ans); err != nil {
		t.Fatalf("ask: exit %d %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if len(ans.Routes) == 0 || !slices.ContainsFunc(ans.Routes, func(rt struct {
		Check string `json:"check"`
	}) bool {
		return rt.Check == "k8s.changes.exposure"
	}) || !slices.ContainsFunc(ans.Changes, func(c struct {
		Resource string `json:"resource"`
	}) bool {
		return c.Resource == "service/shop/admin"
	}) {
		t.Errorf("ask \"any new public endpoints?\": routes %v, changes %v; want k8s.changes.exposure and the heartbeat's change log", ans.Routes, ans.Changes)
	}

	// accept silences and is audited; revert resolves; a removal is told once.
	if r := cliEnv(t, envs, state, "baseline", "accept", "k8s.changes.access", "--resource", "serviceaccount/ci/*"); r.code != 3 {
		t.Errorf("accept without a reason: %+v, want exit 3", r)
	}
	if r := cliEnv(t, envs, state, "baseline", "accept", "k8s.changes.access", "--resource", "serviceaccount/ci/*", "--reason", "CI deploys to prod (CHG-1)"); r.code != 0 {
		t.Fatalf("accept: %+v", r)
	}
	var audit struct {
		Audit []struct {
			Action, Actor string
			Detail        map[string]string
		}
	}
	jsonOut(t, state, 0, &audit, "audit", "-o", "json")
	if !slices.ContainsFunc(audit.Audit, func(a struct {
		Action, Actor string
		Detail        map[string]string
	}) bool {
		return a.Action == "baseline.accepted" && a.Actor != "" && a.Detail["reason"] == "CI deploys to prod (CHG-1)"
	}) {
		t.Errorf("no baseline.accepted audit record with the actor and reason: %+v", audit)
	}
	if err := c.CoreV1().Services("shop").Delete(ctx, "admin", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().Services("shop").Delete(ctx, "legacy", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	code, fs, _ = trackedFindings(t, envs, state, hb)
	if f := fs["service/shop/admin"]; f.State != "resolved" {
		t.Errorf("reverted NodePort: %+v, want resolved", f)
	}
	if f := fs["service/shop/legacy"]; f.Problem != "left_baseline" || f.State != "new" || f.Severity != "info" {
		t.Errorf("removed baseline NodePort: %+v, want a new info finding left_baseline", f)
	}
	if f, ok := fs["serviceaccount/ci/deployer"]; ok && f.State != "resolved" {
		t.Errorf("accepted binding still reported: %+v", f)
	}
	if code != 1 {
		t.Errorf("exit %d, want 1: the ingress and the ClusterRole are still beyond the baseline", code)
	}
	_, fs, _ = trackedFindings(t, envs, state, hb)
	if f := fs["service/shop/legacy"]; f.State != "resolved" {
		t.Errorf("the removal is told again: %+v, want it resolved on the next run", f)
	}

	// An error run (the apiserver unreachable) changes no baseline and resolves nothing.
	var before, after struct{ Baselines []json.RawMessage }
	jsonOut(t, state, 0, &before, "baseline", "show", "-o", "json")
	openBefore := openFindings(t, state)
	down := filepath.Join(dir, "down.kubeconfig")
	kc, err := os.ReadFile(kenv.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, down, regexp.MustCompile(`server: \S+`).ReplaceAllString(string(kc), "server: https://"+closedPort(t)))
	r = cliEnv(t, []string{"KUBECONFIG=" + down}, state, "check", hb, "-o", "json")
	if r.code != 2 {
		t.Errorf("check with the apiserver down: exit %d, want 2\n%s", r.code, r.stdout)
	}
	jsonOut(t, state, 0, &after, "baseline", "show", "-o", "json")
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("an error run changed the baselines:\nbefore %s\nafter  %s", before, after)
	}
	if got := openFindings(t, state); !slices.Equal(got, openBefore) {
		t.Errorf("an error run changed the open findings: %v, want %v", got, openBefore)
	}
	if r := cli(t, state, "audit", "verify"); r.code != 0 {
		t.Errorf("audit verify: %+v", r)
	}
}

// TestChangeTrackingDaemonKill9 kills the daemon between two runs of a
// change-tracking item: the baseline and the finding of a change survive, and the
// change is logged once.
func TestChangeTrackingDaemonKill9(t *testing.T) {
	kenv := startKube(t)
	ctx, c := t.Context(), kenv.Client
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{})
	mustCreate(t, err)
	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, "---\nkube_context: test\n---\n## Every 1 second\n- `k8s.changes.exposure` namespace=shop\n")
	envs := []string{"KUBECONFIG=" + kenv.Kubeconfig}
	baselines := func() []struct {
		Item  string
		Facts []json.RawMessage
	} {
		var bs struct {
			Baselines []struct {
				Item  string
				Facts []json.RawMessage
			}
		}
		jsonOut(t, state, 0, &bs, "baseline", "show", "-o", "json")
		return bs.Baselines
	}
	d := startDaemonEnv(t, envs, state, "--heartbeat", hb)
	waitFor(t, 30*time.Second, "the baseline recorded by the daemon", func() bool { return len(baselines()) == 1 })
	_, err = c.CoreV1().Services("shop").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: "shop"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "admin"}, Ports: []corev1.ServicePort{{Port: 443, Protocol: corev1.ProtocolTCP}}}}, metav1.CreateOptions{})
	mustCreate(t, err)
	waitFor(t, 30*time.Second, "the NodePort found beyond the baseline", func() bool {
		return slices.ContainsFunc(openFindings(t, state), func(s string) bool { return strings.HasPrefix(s, "service/shop/admin ") })
	})
	d.stop(t, syscall.SIGKILL, 10*time.Second)
	bs := baselines()
	if len(bs) != 1 {
		t.Fatalf("baselines after kill -9: %+v", bs)
	}
	d = startDaemonEnv(t, envs, state, "--heartbeat", hb)
	time.Sleep(3 * time.Second) // a few more runs
	d.stop(t, syscall.SIGTERM, 20*time.Second)
	if got := baselines(); len(got) != 1 || got[0].Item != bs[0].Item || len(got[0].Facts) != len(bs[0].Facts) {
		t.Errorf("baselines after the restart %+v, want %+v", got, bs)
	}
	var changes struct {
		Changes []struct{ Kind, Resource string }
	}
	jsonOut(t, state, 0, &changes, "changes", "-o", "json")
	n := 0
	for _, ch := range changes.Changes {
		if ch.Resource == "service/shop/admin" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the NodePort is in the change log %d times, want once: %+v", n, changes)
	}
	if !slices.ContainsFunc(openFindings(t, state), func(s string) bool { return strings.HasPrefix(s, "service/shop/admin ") }) {
		t.Error("the NodePort's finding was lost")
	}
}
