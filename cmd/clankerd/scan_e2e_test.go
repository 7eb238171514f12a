//go:build !clankerd_nokube

package main

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clankerd/clankerd/internal/view"
)

// sarifLog is what the tests read of `-o sarif`.
type sarifLog struct {
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name  string `json:"name"`
				Rules []struct {
					ID string `json:"id"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			Level     string `json:"level"`
			Locations []struct {
				LogicalLocations []struct {
					FullyQualifiedName string `json:"fullyQualifiedName"`
				} `json:"logicalLocations"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			BaselineState       string            `json:"baselineState"`
			Properties          struct {
				State string `json:"state"`
			} `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

// A scan of the real apiserver without a heartbeat: a Deployment with no available
// replica is found (JSON and SARIF), a second scan reports it unchanged rather than
// new, and the AWS checks of a machine without AWS configuration are skipped, never
// passed.
func TestScanKubernetes(t *testing.T) {
	kenv := startKube(t)
	kubeDeployment(t, kenv, "shop", "api", 2)
	state := t.TempDir()
	envs := []string{"KUBECONFIG=" + kenv.Kubeconfig}

	r := cliEnv(t, envs, state, "scan", "--provider", "kube", "--context", "test", "--namespace", "shop", "-o", "json")
	var first checkOutput
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &first) != nil {
		t.Fatalf("scan: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "scanning:") {
		t.Errorf("a scan whose stderr is not a terminal showed a progress line:\n%s", r.stderr)
	}
	seen := map[string]string{}
	var fingerprint string
	for _, res := range first.Results {
		seen[res.Check] = res.Status
		if res.Check == "k8s.workloads.unavailable" {
			if len(res.Findings) != 1 || res.Findings[0].Resource != "deployment/shop/api" || res.Findings[0].State != "new" {
				t.Fatalf("first scan's workloads findings = %+v, want deployment/shop/api, new", res.Findings)
			}
			fingerprint = res.Findings[0].Fingerprint
		}
	}
	if seen["k8s.workloads.unavailable"] != "fail" || seen["k8s.pods.unhealthy"] != "pass" {
		t.Errorf("statuses = %v, want k8s.workloads.unavailable failed and the rest run", seen)
	}
	for id := range seen {
		if !strings.HasPrefix(id, "k8s.") {
			t.Errorf("--provider kube ran %s", id)
		}
	}
	if checkCount := len(seen); checkCount < 10 {
		t.Errorf("scan ran %d checks: %v", checkCount, seen)
	}

	r = cliEnv(t, envs, state, "scan", "--provider", "kube", "--context", "test", "--namespace", "shop", "-o", "sarif")
	var log sarifLog
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &log) != nil || len(log.Runs) != 1 {
		t.Fatalf("scan -o sarif: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if log.Version != "2.1.0" || log.Runs[0].Tool.Driver.Name != "clankerd" || len(log.Runs[0].Tool.Driver.Rules) != len(seen) {
		t.Errorf("sarif tool = %+v, want a rule per check scanned (%d)", log.Runs[0].Tool, len(seen))
	}
	found := false
	for _, res := range log.Runs[0].Results {
		if res.RuleID != "k8s.workloads.unavailable" {
			continue
		}
		found = true
		if res.Locations[0].LogicalLocations[0].FullyQualifiedName != "deployment/shop/api" || res.BaselineState != "unchanged" || res.Properties.State != "unchanged" {
			t.Errorf("second scan's sarif result = %+v, want deployment/shop/api unchanged", res)
		}
		if res.PartialFingerprints["clankerd/v1"] != fingerprint {
			t.Errorf("sarif fingerprint = %v, want the finding's %s", res.PartialFingerprints, fingerprint)
		}
	}
	if !found {
		t.Errorf("the second scan's SARIF lacks the Deployment's finding:\n%s", r.stdout)
	}

	// Without the right to list, every check is an error that says which right.
	r = cliEnv(t, []string{"KUBECONFIG=" + kenv.NobodyKubeconfig}, t.TempDir(), "scan", "--provider", "kube", "-o", "json")
	var denied checkOutput
	if r.code != 2 || json.Unmarshal([]byte(r.stdout), &denied) != nil || len(denied.Results) != len(seen) {
		t.Fatalf("scan without rights: exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, res := range denied.Results {
		if res.Status != "error" || !strings.Contains(res.Error, "list") {
			t.Errorf("%s without rights: %s %q, want an error naming the permission", res.Check, res.Status, res.Error)
		}
	}

	text := cliEnv(t, envs, state, "scan", "--provider", "kube", "--context", "test", "--namespace", "shop")
	for _, want := range []string{"[unchanged] high deployment/shop/api", "open findings by severity:", "open findings by category:"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("scan text lacks %q:\n%s", want, text.stdout)
		}
	}
}

func TestScanWithoutAWSConfigurationIsSkipped(t *testing.T) {
	if !providerLinked(t, "AWS") {
		t.Skip("this build leaves the AWS provider out")
	}
	home := t.TempDir()
	envs := []string{
		"HOME=" + home, "AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_PROFILE=", "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_EC2_METADATA_DISABLED=true",
	}
	r := cliEnv(t, envs, t.TempDir(), "scan", "--provider", "aws", "-o", "json")
	var out checkOutput
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Results) == 0 {
		t.Fatalf("scan --provider aws: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, res := range out.Results {
		if res.Status != "skipped" || res.Error == "" {
			t.Errorf("%s: %s (%q), want skipped with the reason", res.Check, res.Status, res.Error)
		}
	}
}

// scan -o json is check -o json: both decode into view.Results with nothing left
// over, and their results and findings have the same keys.
func TestScanJSONHasTheShapeOfCheck(t *testing.T) {
	kenv := startKube(t)
	kubeDeployment(t, kenv, "shop", "api", 2)
	dir := t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, "## Hourly\n- `k8s.workloads.unavailable` namespace=shop\n")
	envs := []string{"KUBECONFIG=" + kenv.Kubeconfig}
	outputs := map[string]string{
		"check": cliEnv(t, envs, t.TempDir(), "check", hb, "-o", "json").stdout,
		"scan":  cliEnv(t, envs, t.TempDir(), "scan", "--provider", "kube", "--namespace", "shop", "-o", "json").stdout,
	}
	keys := map[string][]string{}
	for name, out := range outputs {
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		var rs view.Results
		if err := dec.Decode(&rs); err != nil {
			t.Fatalf("%s -o json does not decode into view.Results: %v\n%s", name, err, out)
		}
		var raw struct {
			Results []map[string]json.RawMessage `json:"results"`
			Summary map[string]int               `json:"summary"`
		}
		if err := json.Unmarshal([]byte(out), &raw); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(rs.Results, func(r view.Result) bool { return r.Check == "k8s.workloads.unavailable" })
		if i < 0 || len(rs.Results[i].Findings) == 0 {
			t.Fatalf("%s found nothing to compare:\n%s", name, out)
		}
		var finding []map[string]json.RawMessage
		if err := json.Unmarshal(raw.Results[i]["findings"], &finding); err != nil {
			t.Fatal(err)
		}
		keys[name+" result"] = slices.Sorted(maps.Keys(raw.Results[i]))
		keys[name+" finding"] = slices.Sorted(maps.Keys(finding[0]))
	}
	for _, part := range []string{"result", "finding"} {
		if c, s := keys["check "+part], keys["scan "+part]; !slices.Equal(c, s) {
			t.Errorf("a %s of check has keys %v, of scan %v", part, c, s)
		}
	}
}
