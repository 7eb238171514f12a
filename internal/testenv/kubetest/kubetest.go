// Package kubetest starts a real kube-apiserver and etcd for tests, through the
// project's scripts/kube-testenv. Under CI=true a test environment that cannot start
// fails the tests; elsewhere the tests skip and say why.
package kubetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clankerd/clankerd/internal/testenv/envscript"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Env is a running test apiserver.
type Env struct {
	Dir string
	// Kubeconfig has admin rights (context "test"); NobodyKubeconfig is a user with no
	// RBAC grants.
	Kubeconfig, NobodyKubeconfig string
	Client                       kubernetes.Interface
	script                       string
}

// ErrUnavailable: the environment could not start here (no binaries, ...).
var ErrUnavailable = errors.New("kube test environment unavailable")

// Start starts an apiserver and etcd with their state in dir.
func Start(dir string) (*Env, error) {
	script, err := scriptPath()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	cmd := exec.Command(script, "start", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s start: %v\n%s(build the binaries with scripts/kube-testenv build)", ErrUnavailable, script, err, out.String())
	}
	e := &Env{Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"), NobodyKubeconfig: filepath.Join(dir, "kubeconfig-nobody"), script: script}
	cfg, err := clientcmd.BuildConfigFromFlags("", e.Kubeconfig)
	if err != nil {
		e.Stop()
		return nil, err
	}
	cfg.QPS, cfg.Burst = 1000, 2000 // tests plant many objects quickly
	if e.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// Stop stops the apiserver and etcd.
func (e *Env) Stop() {
	_ = exec.Command(e.script, "stop", e.Dir).Run()
}

// Main is for TestMain: it starts an environment into *env, runs the tests, and stops
// it. When the environment cannot start, *env stays nil and reason says why (tests
// call Require); under CI=true that fails the run instead.
func Main(m *testing.M, env **Env, reason *string) int {
	dir, err := os.MkdirTemp("", "kubetest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	e, err := Start(dir)
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "CI=true and the Kubernetes test environment did not start:", err)
			return 1
		}
		*reason = err.Error()
		return m.Run()
	}
	*env = e
	defer e.Stop()
	return m.Run()
}

// Require skips the test (or fails it under CI=true) when there is no environment.
func Require(t testing.TB, env *Env, reason string) {
	t.Helper()
	envscript.Require(t, env != nil, "Kubernetes test environment", reason)
}

// scriptPath finds scripts/kube-testenv.
func scriptPath() (string, error) { return envscript.Find("kube-testenv") }

// Kubectl is the kubectl of the environment's release, built into the test cache by
// `scripts/kube-testenv build`. Without it the test skips, or fails under CI=true.
func (e *Env) Kubectl(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(e.script, "bin").Output()
	path := filepath.Join(strings.TrimSpace(string(out)), "kubectl")
	reason := ""
	if err == nil {
		_, err = os.Stat(path)
	}
	if err != nil {
		reason = fmt.Sprintf("no kubectl in the test cache (%v): run scripts/kube-testenv build", err)
	}
	envscript.Require(t, err == nil, "kubectl", reason)
	return path
}
