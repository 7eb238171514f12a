// Package awstest runs moto_server (a local AWS API) for tests. Under CI=true a
// moto_server that cannot start fails the run; elsewhere the tests that need it skip
// with the reason.
package awstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Moto is a running moto_server.
type Moto struct {
	// URL is its endpoint, http://127.0.0.1:PORT.
	URL string
	cmd *exec.Cmd
	log bytes.Buffer
}

// Env is the environment the AWS SDK reads in tests: static credentials, one region,
// no shared files and no instance metadata, so nothing on the machine leaks in.
var Env = map[string]string{
	"AWS_ACCESS_KEY_ID":           "AKIAIOSFODNN7EXAMPLE",
	"AWS_SECRET_ACCESS_KEY":       "testing-secret",
	"AWS_REGION":                  "us-east-1",
	"AWS_EC2_METADATA_DISABLED":   "true",
	"AWS_CONFIG_FILE":             os.DevNull,
	"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	"AWS_PROFILE":                 "",
	"AWS_ENDPOINT_URL":            "",
}

// ECSRunning is the running count moto reports for every ECS service (moto reads
// MOTO_ECS_SERVICE_RUNNING once, at start).
const ECSRunning = 2

// Start runs moto_server on a free loopback port and waits until it answers.
func Start() (*Moto, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, errors.New("moto_server is not installed (pip install 'moto[server]')")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &Moto{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	m.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	m.cmd.Env = append(os.Environ(), "MOTO_ECS_SERVICE_RUNNING="+strconv.Itoa(ECSRunning))
	m.cmd.Stdout, m.cmd.Stderr = &m.log, &m.log
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting moto_server: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(m.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return m, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.Stop()
	return nil, fmt.Errorf("moto_server did not answer on %s within 30s: %s", m.URL, m.log.String())
}

// Stop ends moto_server.
func (m *Moto) Stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
	}
}

// Reset wipes every resource (POST /moto-api/reset).
func (m *Moto) Reset(t testing.TB) {
	t.Helper()
	m.post(t, "/moto-api/reset", "")
}

// SeedCostAndUsage queues Cost Explorer GetCostAndUsage results: each new distinct
// request takes the next one (POST /moto-api/static/ce/cost-and-usage-results).
func (m *Moto) SeedCostAndUsage(t testing.TB, resultsJSON string) {
	t.Helper()
	m.post(t, "/moto-api/static/ce/cost-and-usage-results", resultsJSON)
}

func (m *Moto) post(t testing.TB, path, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, m.URL+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("moto %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("moto %s: %s: %s", path, resp.Status, b)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Main starts moto for a package's tests, sets Env in the process environment, runs
// them, and stops moto. Without moto the tests run and those that need it skip (call
// Require); under CI=true that fails the run instead.
func Main(m *testing.M, moto **Moto, reason *string) int {
	for k, v := range Env {
		if v == "" {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, v)
		}
	}
	var err error
	*moto, err = Start()
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "CI=true and moto_server did not start:", err)
			return 1
		}
		*reason = err.Error()
	} else {
		defer (*moto).Stop()
	}
	return m.Run()
}

// Require skips the test (or fails it under CI=true) when there is no moto.
func Require(t testing.TB, moto *Moto, reason string) {
	t.Helper()
	if moto != nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and no moto_server: %s", reason)
	}
	t.Skipf("no moto_server (%s)", reason)
}
