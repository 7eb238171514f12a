// Package envscript is what the test environments share: finding their start script
// in the repository and the rule that a missing environment skips a test locally and
// fails it under CI=true.
package envscript

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Find returns scripts/NAME, looked for from the working directory up.
func Find(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/" + name + " not found above the working directory")
		}
		dir = parent
	}
}

// Require skips the test when the environment (what, such as "Kubernetes test
// environment") is not there, or fails it under CI=true, with the reason.
func Require(t testing.TB, there bool, what, reason string) {
	t.Helper()
	if there {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and no %s: %s", what, reason)
	}
	t.Skipf("no %s (%s)", what, reason)
}
