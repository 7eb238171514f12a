package kube

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/checktest"
	"github.com/clankerd/clankerd/internal/testenv/kubetest"
)

// env is the test apiserver shared by the package's tests (see TestMain).
var (
	env       *kubetest.Env
	envReason string
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m, &env, &envReason)) }

// cluster skips or fails the test without an apiserver and returns a provider on it.
func cluster(t *testing.T, opts Options) *Provider {
	t.Helper()
	kubetest.Require(t, env, envReason)
	if opts.Kubeconfig == "" {
		opts.Kubeconfig = env.Kubeconfig
	}
	p := New(opts)
	t.Cleanup(func() { p.Close() })
	return p
}

var nsCounter atomic.Int32

// namespace creates a namespace for one test and deletes it afterwards.
func namespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", nsCounter.Add(1), strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	if len(name) > 60 {
		name = name[:60]
	}
	name = strings.TrimRight(name, "-")
	_, err := env.Client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// run runs a registered check with raw parameters bound through its spec.
func run(t *testing.T, p *Provider, id string, raw map[string]string) (checks.Result, error) {
	t.Helper()
	reg := checks.NewRegistry()
	if err := p.Register(reg); err != nil {
		t.Fatal(err)
	}
	c, ok := reg.Check(id)
	if !ok {
		t.Fatalf("no check %s", id)
	}
	params, err := c.Spec().Bind(raw, nil)
	if err != nil {
		t.Fatalf("binding %v: %v", raw, err)
	}
	return c.Run(t.Context(), params)
}

// found runs a check and returns its findings as sorted "resource problem severity".
func found(t *testing.T, p *Provider, id string, raw map[string]string) []string {
	t.Helper()
	res, err := run(t, p, id, raw)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	var out []string
	for _, f := range res.Findings {
		if f.Summary == "" || f.Fix == "" || f.Evidence["context"] != "test" {
			t.Errorf("%s: incomplete finding %+v", id, f)
		}
		out = append(out, f.Resource+" "+f.Problem+" "+string(f.Severity))
	}
	slices.Sort(out)
	return out
}

var expect = checktest.Expect

// pod creates a pod and then writes the status.
func pod(t *testing.T, ns, name string, mutate func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/app:1.2.3",
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: mustQuantity("100m"), corev1.ResourceMemory: mustQuantity("128Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: mustQuantity("256Mi")},
			},
			SecurityContext: &corev1.SecurityContext{RunAsNonRoot: ptr(true)},
		}}},
	}
	if mutate != nil {
		mutate(p)
	}
	status := p.Status
	created, err := env.Client.CoreV1().Pods(ns).Create(t.Context(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
	if status.Phase == "" {
		return created
	}
	created.Status = status
	updated, err := env.Client.CoreV1().Pods(ns).UpdateStatus(t.Context(), created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("writing the status of pod %s: %v", name, err)
	}
	return updated
}

func ptr[T any](v T) *T { return &v }

func ago(d time.Duration) metav1.Time {
	return metav1.NewTime(time.Now().Add(-d).Truncate(time.Second))
}
