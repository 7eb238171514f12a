package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestFingerprintIgnoresDescription(t *testing.T) {
	a := Finding{Resource: "pod/prod/api", Problem: "crashloop", Severity: High, Summary: "one", Evidence: map[string]string{"restarts": "3"}}
	b := a
	b.Summary, b.Severity, b.Evidence = "two", Low, map[string]string{"restarts": "9"}
	if Fingerprint("item1", a) != Fingerprint("item1", b) {
		t.Error("fingerprint changed with summary/severity/evidence")
	}
	c := a
	c.Problem = "oomkilled"
	for name, fp := range map[string]string{
		"problem":  Fingerprint("item1", c),
		"item":     Fingerprint("item2", a),
		"resource": Fingerprint("item1", Finding{Resource: "pod/prod/web", Problem: "crashloop"}),
	} {
		if fp == Fingerprint("item1", a) {
			t.Errorf("fingerprint did not change with %s", name)
		}
	}
	// Field boundaries matter: ("ab","c") and ("a","bc") differ.
	if Fingerprint("x", Finding{Resource: "ab", Problem: "c"}) == Fingerprint("x", Finding{Resource: "a", Problem: "bc"}) {
		t.Error("fingerprint ambiguous across field boundary")
	}
}

func TestResultStatus(t *testing.T) {
	if (Result{}).Status() != Pass {
		t.Error("empty result should pass")
	}
	if (Result{Findings: []Finding{{Severity: Info}}}).Status() != Pass {
		t.Error("info findings should not fail")
	}
	if (Result{Findings: []Finding{{Severity: Info}, {Severity: Low}}}).Status() != Fail {
		t.Error("low finding should fail")
	}
}

func TestSeverity(t *testing.T) {
	if s, err := ParseSeverity(" HIGH "); err != nil || s != High {
		t.Errorf("ParseSeverity = %q, %v", s, err)
	}
	if _, err := ParseSeverity("urgent"); err == nil || !strings.Contains(err.Error(), "info, low, medium, high, critical") {
		t.Errorf("ParseSeverity(urgent) error = %v", err)
	}
	if !(Critical.Rank() > High.Rank() && High.Rank() > Medium.Rank() && Medium.Rank() > Low.Rank() && Low.Rank() > Info.Rank()) {
		t.Error("ranks out of order")
	}
}

func TestSkip(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", Skip("no kubeconfig"))
	reason, ok := IsSkip(err)
	if !ok || reason != "no kubeconfig" {
		t.Errorf("IsSkip = %q, %v", reason, ok)
	}
	if _, ok := IsSkip(errors.New("boom")); ok {
		t.Error("plain error read as skip")
	}
}

func TestCompareObserved(t *testing.T) {
	planned := map[string]string{"replicas": "3", "generation": "7"}
	if err := CompareObserved("deployment/a/b", planned, map[string]string{"replicas": "3", "generation": "7", "extra": "x"}); err != nil {
		t.Errorf("same state: %v", err)
	}
	err := CompareObserved("deployment/a/b", planned, map[string]string{"replicas": "5"})
	if !errors.Is(err, ErrDrift) {
		t.Fatalf("drift not detected: %v", err)
	}
	var de *DriftError
	if !errors.As(err, &de) || len(de.Fields) != 2 || de.Fields[0].Field != "generation" || de.Fields[0].Live != "" {
		t.Errorf("drift fields = %+v", de)
	}
	if !strings.Contains(err.Error(), `replicas was "3" when planned, is "5" now`) || !strings.Contains(err.Error(), "(gone)") {
		t.Errorf("message = %q", err)
	}
}

type fakeCheck struct{ spec Spec }

func (f fakeCheck) Spec() Spec                                  { return f.spec }
func (f fakeCheck) Run(context.Context, Params) (Result, error) { return Result{}, nil }

type fakeTask struct{ fakeCheck }

func (fakeTask) Plan(context.Context, Params) (Plan, error)   { return Plan{}, nil }
func (fakeTask) Apply(context.Context, Plan) (Applied, error) { return Applied{}, nil }

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	for _, id := range []string{"http.status", "tcp.connect", "tls.expiry"} {
		if err := r.AddCheck(fakeCheck{Spec{ID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.AddTask(fakeTask{fakeCheck{Spec{ID: "test.scale", Params: []ParamSpec{{Name: "context", FrontMatter: "kube_context"}}}}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"http.status", "nodots", "Upper.case", "a..b"} {
		if err := r.AddCheck(fakeCheck{Spec{ID: bad}}); err == nil {
			t.Errorf("AddCheck(%q) accepted", bad)
		}
	}
	if _, kind, ok := r.Lookup("test.scale"); !ok || kind != KindTask {
		t.Errorf("Lookup task = %v %v", kind, ok)
	}
	if _, kind, ok := r.Lookup("tcp.connect"); !ok || kind != KindCheck {
		t.Errorf("Lookup check = %v %v", kind, ok)
	}
	if _, _, ok := r.Lookup("tcp.nope"); ok {
		t.Error("Lookup of unknown id succeeded")
	}
	if got := r.Suggest("http.stats"); len(got) == 0 || got[0] != "http.status" {
		t.Errorf("Suggest = %q", got)
	}
	if got := strings.Join(r.FrontMatterKeys(), ","); got != "kube_context,timeout" {
		t.Errorf("FrontMatterKeys = %s", got)
	}
	specs := r.Specs()
	if len(specs) != 4 || specs[0].ID != "http.status" || specs[3].ID != "tls.expiry" {
		t.Errorf("Specs not sorted: %v", specs)
	}
	// AddAll adds what it can and names every id it could not.
	err := r.AddAll([]Check{fakeCheck{Spec{ID: "dns.resolve"}}, fakeCheck{Spec{ID: "http.status"}}}, []Task{fakeTask{fakeCheck{Spec{ID: "test.scale"}}}})
	if err == nil || !strings.Contains(err.Error(), "http.status") || !strings.Contains(err.Error(), "test.scale") {
		t.Errorf("AddAll duplicates: %v", err)
	}
	if _, _, ok := r.Lookup("dns.resolve"); !ok {
		t.Error("AddAll dropped the valid check")
	}
}

func TestMemoSharesOneFetchPerRound(t *testing.T) {
	ctx := WithRound(t.Context(), NewRound())
	var calls atomic.Int32
	fetch := func(context.Context) ([]string, error) {
		calls.Add(1)
		return []string{"pod-a"}, nil
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			v, err := Memo(ctx, "pods", fetch)
			if err != nil || len(v) != 1 {
				t.Errorf("Memo = %v, %v", v, err)
			}
		})
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("fetch called %d times in one round, want 1", calls.Load())
	}
	if _, err := Memo(t.Context(), "pods", fetch); err != nil || calls.Load() != 2 {
		t.Errorf("without a round: calls=%d err=%v", calls.Load(), err)
	}
	_, err := Memo(ctx, "boom", func(context.Context) (int, error) { panic("bad") })
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("panic in fetch: %v", err)
	}
}
