//go:build linux && !clankerd_nokube

package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A scan that takes longer than two seconds keeps a progress line on a terminal's
// stderr: here every check waits on an apiserver that answers each request after
// 2.5 s (with 403), and the built binary's stderr is a real pseudo-terminal.
func TestScanProgressOnATerminal(t *testing.T) {
	keyboard, tty := openPty(t)
	slow := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2500 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"slow and forbidden"}`))
	}))
	t.Cleanup(slow.Close)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: slow
  cluster: {server: "`+slow.URL+`", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t}
contexts:
- name: slow
  context: {cluster: slow, user: u}
current-context: slow
`), 0o600); err != nil {
		t.Fatal(err)
	}

	var seen syncBuffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := keyboard.Read(buf)
			if n > 0 {
				seen.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	scan := exec.CommandContext(ctx, binary, "--state-dir", t.TempDir(), "scan", "--provider", "kube")
	scan.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var stdout syncBuffer
	scan.Stdout, scan.Stderr = &stdout, tty
	err := scan.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("scan against a forbidding apiserver: %v, want exit 2 (errors)\n%s", err, stdout.String())
	}
	waitFor(t, 5*time.Second, "the progress line on the terminal", func() bool { return strings.Contains(seen.String(), "scanning: ") })
	if !strings.Contains(seen.String(), "/") || !strings.Contains(seen.String(), " checks") {
		t.Errorf("progress line %q, want scanning: N/M checks", seen.String())
	}
	if strings.Contains(stdout.String(), "scanning: ") {
		t.Errorf("the progress line went to stdout:\n%s", stdout.String())
	}
}
