package kube

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/clankerd/clankerd/checks"
)

func TestNoKubeconfigSkips(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	p := New(Options{})
	defer p.Close()
	_, err := run(t, p, "k8s.pods.unhealthy", nil)
	reason, ok := checks.IsSkip(err)
	if !ok || !strings.Contains(reason, "no kubeconfig") {
		t.Errorf("without a kubeconfig: %v", err)
	}
}

func TestContexts(t *testing.T) {
	p := cluster(t, Options{})
	if _, err := run(t, p, "k8s.pods.restarts", map[string]string{"context": "staging"}); err == nil || !strings.Contains(err.Error(), `context "staging" is not in the kubeconfig; known contexts: test`) {
		t.Errorf("unknown context: %v", err)
	}
	res, err := run(t, p, "k8s.pods.restarts", map[string]string{"context": "test", "namespace": "default"})
	if err != nil || res.Evidence["context"] != "test" {
		t.Errorf("named context: %+v %v", res, err)
	}
}

// kubeconfigWith writes a copy of the test kubeconfig with one string replaced.
func kubeconfigWith(t *testing.T, old, repl string) string {
	t.Helper()
	data, err := os.ReadFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, repl, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAPIErrorsAreErrors(t *testing.T) {
	cluster(t, Options{}) // skips or fails without a cluster
	noGrants(t)
	data, _ := os.ReadFile(env.Kubeconfig)
	token := ""
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "token: "); ok {
			token = v
		}
	}
	server := ""
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "server: "); ok {
			server = v
		}
	}
	tests := []struct {
		name, kubeconfig, want string
	}{
		{"no RBAC rights", env.NobodyKubeconfig, "forbidden by RBAC: missing permission list "},
		{"rejected token", kubeconfigWith(t, token, "expired-token"), "rejected the credentials"},
		{"unreachable apiserver", kubeconfigWith(t, server, "https://127.0.0.1:1"), "cannot reach the apiserver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Options{Kubeconfig: tt.kubeconfig})
			defer p.Close()
			for _, id := range []string{"k8s.pods.unhealthy", "k8s.nodes.notready", "k8s.rbac.clusteradmin"} {
				res, err := run(t, p, id, nil)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: result %+v, error %v; want an error saying %q", id, res, err, tt.want)
				}
			}
		})
	}
}

func TestOneListPerKindPerRound(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	for _, name := range []string{"a", "b", "c"} {
		pod(t, ns, name, nil)
	}
	ctx := checks.WithRound(t.Context(), checks.NewRound())
	reg := checks.NewRegistry()
	if err := p.Register(reg); err != nil {
		t.Fatal(err)
	}
	before := p.Requests()
	podChecks := []string{"k8s.pods.unhealthy", "k8s.pods.restarts", "k8s.pods.privileged", "k8s.images.latest", "k8s.resources.missing"}
	for _, id := range podChecks {
		c, _ := reg.Check(id)
		params, _ := c.Spec().Bind(map[string]string{"namespace": ns}, nil)
		if _, err := c.Run(ctx, params); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.Requests() - before; n != 1 {
		t.Errorf("%d requests for %d pod checks in one round, want one LIST", n, len(podChecks))
	}
	// The next round lists again.
	c, _ := reg.Check("k8s.pods.restarts")
	params, _ := c.Spec().Bind(nil, nil)
	if _, err := c.Run(checks.WithRound(t.Context(), checks.NewRound()), params); err != nil {
		t.Fatal(err)
	}
	if n := p.Requests() - before; n != 2 {
		t.Errorf("%d requests after a second round, want 2", n)
	}
}

func TestPaginatedList(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	names := make([]string, pageSize+20)
	for i := range names {
		names[i] = "p-" + strconv.Itoa(i)
	}
	plainPods(t, ns, nil, names...)
	c := connected(t, p)
	before := p.Requests()
	pods, err := readPods(checks.WithRound(t.Context(), checks.NewRound()), c)
	if err != nil {
		t.Fatal(err)
	}
	mine := 0
	var spec *checkedPodSpec // equal on every page: one copy
	for _, pod := range pods {
		if pod.namespace == ns {
			mine++
			if spec == nil {
				spec = pod.spec
			}
			if pod.spec != spec || pod.spec.Containers[0].Image != "registry.example/x:1" {
				t.Fatalf("pod %s: spec %+v not shared or not kept right", pod.name, pod.spec)
			}
		}
	}
	if mine != pageSize+20 || p.Requests()-before < 2 {
		t.Errorf("read %d of %d pods in %d requests", mine, pageSize+20, p.Requests()-before)
	}
}

func TestWatchCache(t *testing.T) {
	p := cluster(t, Options{Watch: true})
	ns := namespace(t)
	pod(t, ns, "ok", nil)
	if got := found(t, p, "k8s.pods.restarts", map[string]string{"namespace": ns}); len(got) != 0 {
		t.Fatalf("first run: %v", got)
	}
	before := p.Requests()
	// A change reaches the cache through the watch: no new request.
	pod(t, ns, "flappy", func(p *corev1.Pod) {
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "x", RestartCount: 9, State: running()}}}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := found(t, p, "k8s.pods.restarts", map[string]string{"namespace": ns})
		if len(got) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watch cache never saw the restarts: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := p.Requests() - before; n != 0 {
		t.Errorf("scheduled runs served from the watch cache sent %d requests", n)
	}
}

func TestWatchCacheErrors(t *testing.T) {
	cluster(t, Options{})
	p := New(Options{Watch: true, Kubeconfig: env.NobodyKubeconfig})
	defer p.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	reg := checks.NewRegistry()
	_ = p.Register(reg)
	c, _ := reg.Check("k8s.pods.unhealthy")
	params, _ := c.Spec().Bind(nil, nil)
	start := time.Now()
	_, err := c.Run(ctx, params)
	if err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("watch without rights: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the forbidden watch took %s to report", d)
	}
}

func TestMissingPermission(t *testing.T) {
	tests := []struct{ msg, want string }{
		{`pods is forbidden: User "nobody" cannot list resource "pods" in API group "" at the cluster scope`, ": missing permission list pods (API group core)"},
		{`horizontalpodautoscalers.autoscaling is forbidden: User "x" cannot watch resource "horizontalpodautoscalers" in API group "autoscaling" in the namespace "a"`, ": missing permission watch horizontalpodautoscalers (API group autoscaling)"},
		{`forbidden: something else`, ""},
	}
	for _, tt := range tests {
		if got := missingPermission(errors.New(tt.msg)); got != tt.want {
			t.Errorf("missingPermission(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}
