package kubetest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// ContribClusterRole reads the ClusterRole of contrib/kubernetes/NAME.yaml (found
// from the working directory up), strictly: an unknown field fails the test.
func ContribClusterRole(t testing.TB, name string) *rbacv1.ClusterRole {
	t.Helper()
	path, err := contribFile(filepath.Join("contrib", "kubernetes", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cr rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &cr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if cr.Kind != "ClusterRole" || cr.Name != name {
		t.Fatalf("%s holds %s %q, want ClusterRole %q", path, cr.Kind, cr.Name, name)
	}
	return &cr
}

// contribFile finds rel (contrib/…) from the working directory up.
func contribFile(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New(rel + " not found above the working directory")
		}
		dir = parent
	}
}
