package view

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/scan"
	"github.com/clankerd/clankerd/internal/store"
)

// fakeCheck is a check that only has a spec.
type fakeCheck struct{ spec checks.Spec }

func (c fakeCheck) Spec() checks.Spec { return c.spec }
func (c fakeCheck) Run(context.Context, checks.Params) (checks.Result, error) {
	return checks.Result{}, nil
}

// scanRound is a registry of three checks and a round of their results: one failed
// with findings in every state (one of them muted), one could not evaluate, one
// was skipped.
func scanRound(t *testing.T) (*checks.Registry, Results) {
	t.Helper()
	reg := checks.NewRegistry()
	for _, s := range []checks.Spec{
		{ID: "k8s.pods.unhealthy", Description: "pods that are not healthy", Categories: []string{checks.CategoryHealth}},
		{ID: "k8s.exposure.public", Description: "public Services", Categories: []string{checks.CategoryExposure, checks.CategoryHealth}},
		{ID: "aws.s3.public", Description: "public buckets", Categories: []string{checks.CategoryExposure}},
	} {
		if err := reg.AddCheck(fakeCheck{s}); err != nil {
			t.Fatal(err)
		}
	}
	item := func(id string) heartbeat.Item {
		return heartbeat.NewItem(heartbeat.OriginScan, heartbeat.Operator, id, checks.KindCheck, checks.Params{}, "")
	}
	found := func(fp, resource string, sev checks.Severity, state store.FindingState, muted string) store.RunFinding {
		return store.RunFinding{FindingRecord: store.FindingRecord{
			Fingerprint: fp, Check: "k8s.pods.unhealthy", State: state, MutedBy: muted,
			Finding: checks.Finding{Resource: resource, Problem: "crashloop", Severity: sev, Summary: "crashing " + resource},
		}}
	}
	outcomes := []runner.Outcome{
		{Item: item("k8s.pods.unhealthy"), Receipt: store.Receipt{Status: checks.Fail}, Findings: []store.RunFinding{
			found("f1", "pod/shop/a", checks.Critical, store.FindingNew, ""),
			found("f2", "pod/shop/b", checks.Medium, store.FindingUnchanged, ""),
			found("f3", "pod/shop/c", checks.Low, store.FindingChanged, "alice"),
			found("f4", "pod/shop/d", checks.High, store.FindingResolved, ""),
		}},
		{Item: item("k8s.exposure.public"), Receipt: store.Receipt{Status: checks.Error, Error: "listing services: forbidden"}},
		{Item: item("aws.s3.public"), Receipt: store.Receipt{Status: checks.Skipped, Error: "no AWS credentials"}},
	}
	return reg, NewResults(outcomes)
}

// validator compiles the official SARIF 2.1.0 schema of testdata.
func validator(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	const url = "https://json.schemastore.org/sarif-2.1.0.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateSARIF(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(inst)
}

func TestSARIFIsValidAndMapsFindings(t *testing.T) {
	reg, rs := scanRound(t)
	var b bytes.Buffer
	if err := WriteJSON(&b, NewSARIF(rs, reg, "1.2.3")); err != nil {
		t.Fatal(err)
	}
	schema := validator(t)
	if err := validateSARIF(t, schema, b.Bytes()); err != nil {
		t.Fatalf("the SARIF log is not valid SARIF 2.1.0: %v\n%s", err, b.String())
	}
	// The schema is enforced: a level SARIF does not know is refused.
	if err := validateSARIF(t, schema, bytes.Replace(b.Bytes(), []byte(`"level": "warning"`), []byte(`"level": "fatal"`), 1)); err == nil {
		t.Error("the schema accepted an unknown level: is it the SARIF schema?")
	}

	var log SARIF
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 {
		t.Fatalf("runs = %d, want 1", len(log.Runs))
	}
	run := log.Runs[0]
	if d := run.Tool.Driver; d.Name != "clankerd" || d.Version != "1.2.3" || len(d.Rules) != 3 {
		t.Fatalf("driver = %+v", d)
	}
	if r := run.Tool.Driver.Rules[0]; r.ID != "k8s.pods.unhealthy" || r.ShortDescription.Text != "pods that are not healthy" || r.Properties.Tags[0] != "health" {
		t.Errorf("rule = %+v", r)
	}
	type want struct{ level, resource, fingerprint, baseline string }
	wants := []want{
		{"error", "pod/shop/a", "f1", "new"},
		{"warning", "pod/shop/b", "f2", "unchanged"},
		{"note", "pod/shop/c", "f3", "updated"},
	}
	if len(run.Results) != len(wants) {
		t.Fatalf("results = %+v, want the 3 open findings (the resolved one left out)", run.Results)
	}
	for i, w := range wants {
		r := run.Results[i]
		got := want{r.Level, r.Locations[0].LogicalLocations[0].FullyQualifiedName, r.PartialFingerprints[sarifFingerprintKey], r.BaselineState}
		if got != w || r.RuleID != "k8s.pods.unhealthy" || r.RuleIndex != 0 || r.Message.Text != "crashing "+w.resource {
			t.Errorf("result %d = %+v, want %+v", i, r, w)
		}
	}
	if r := run.Results[0]; r.Properties.Severity != checks.Critical || r.Properties.State != store.FindingNew {
		t.Errorf("properties = %+v", r.Properties)
	}
	if s := run.Results[2].Suppressions; len(s) != 1 || !strings.Contains(s[0].Justification, "alice") {
		t.Errorf("a muted finding's suppressions = %+v", s)
	}
	inv := run.Invocations[0]
	if inv.ExecutionSuccessful || len(inv.Notifications) != 1 || inv.Notifications[0].Descriptor.ID != "k8s.exposure.public" {
		t.Errorf("invocation = %+v, want the error of k8s.exposure.public", inv)
	}
}

func TestSARIFLevels(t *testing.T) {
	for sev, want := range map[checks.Severity]string{
		checks.Critical: "error", checks.High: "error", checks.Medium: "warning", checks.Low: "note", checks.Info: "note",
	} {
		if got := sarifLevel(sev); got != want {
			t.Errorf("sarifLevel(%s) = %s, want %s", sev, got, want)
		}
	}
}

func TestJUnitOfAScan(t *testing.T) {
	_, rs := scanRound(t)
	var b bytes.Buffer
	if err := rs.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("the JUnit XML does not decode: %v\n%s", err, b.String())
	}
	again, err := xml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var twice junitSuites
	if err := xml.Unmarshal(again, &twice); err != nil || len(twice.Suites) != 1 || len(twice.Suites[0].Cases) != 3 {
		t.Fatalf("the JUnit XML does not round-trip: %v %+v", err, twice)
	}
	if len(got.Suites) != 1 {
		t.Fatalf("suites = %+v, want one for the scan", got.Suites)
	}
	s := got.Suites[0]
	if s.Name != heartbeat.OriginScan || s.Tests != 3 || s.Failures != 1 || s.Errors != 1 || s.Skipped != 1 {
		t.Errorf("suite = %+v", s)
	}
	c := s.Cases
	if c[0].Failure == nil || !strings.Contains(c[0].Failure.Body, "pod/shop/a") || c[1].Error == nil || !strings.Contains(c[1].Error.Body, "forbidden") || c[2].Skipped == nil {
		t.Errorf("cases = %+v", c)
	}
}

func TestScanSummary(t *testing.T) {
	reg, rs := scanRound(t)
	s := NewScanSummary(rs, reg, []scan.Left{{Check: "aws.cost.forecast", Reason: "needs budget="}})
	if s.BySeverity[checks.Critical] != 1 || s.BySeverity[checks.Medium] != 1 || s.BySeverity[checks.Low] != 1 || s.BySeverity[checks.High] != 0 {
		t.Errorf("by severity = %v, want the open findings only", s.BySeverity)
	}
	if s.ByCategory[checks.CategoryHealth] != 3 || len(s.ByCategory) != 1 {
		t.Errorf("by category = %v", s.ByCategory)
	}
	var b bytes.Buffer
	s.WriteText(&b)
	want := "open findings by severity: 1 critical, 1 medium, 1 low\nopen findings by category: health 3\nnot scanned: aws.cost.forecast (needs budget=)\n"
	if b.String() != want {
		t.Errorf("text =\n%s\nwant\n%s", b.String(), want)
	}
}

// lockedBuffer is a buffer the progress line's timer and the test may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestProgressShowsAfterTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w lockedBuffer
		p := StartProgress(&w, 3, 2*time.Second)
		p.Step()
		time.Sleep(time.Second)
		synctest.Wait()
		if w.String() != "" {
			t.Fatalf("progress before the delay: %q", w.String())
		}
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if w.String() != "\rscanning: 1/3 checks" {
			t.Fatalf("progress after the delay = %q", w.String())
		}
		p.Step()
		p.Stop()
		p.Stop()
		p.Step()
		if want := "\rscanning: 1/3 checks\rscanning: 2/3 checks\r\x1b[K"; w.String() != want {
			t.Errorf("progress = %q, want %q", w.String(), want)
		}
	})
}

func TestProgressOfAQuickScanIsNeverShown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w lockedBuffer
		p := StartProgress(&w, 3, 2*time.Second)
		p.Step()
		p.Stop()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if w.String() != "" {
			t.Errorf("a scan shorter than the delay wrote %q", w.String())
		}
		quiet := StartProgress(nil, 3, 0)
		quiet.Step()
		quiet.Stop()
	})
}
