package approvals

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
)

type catalog map[string]checks.Spec

func (c catalog) Lookup(id string) (checks.Spec, checks.Kind, bool) {
	s, ok := c[id]
	return s, checks.KindTask, ok
}

var tasks = catalog{
	"k8s.deployment.scale": {ID: "k8s.deployment.scale", Params: []checks.ParamSpec{{Name: "deployment"}, {Name: "replicas", Type: checks.Int}, {Name: "context"}}},
	"test.file.set":        {ID: "test.file.set", Params: []checks.ParamSpec{{Name: "path"}, {Name: "content"}}},
}

func plan(t *testing.T, task, target string, risk checks.Risk, cost *float64, raw map[string]string) checks.Plan {
	t.Helper()
	spec, _, _ := tasks.Lookup(task)
	p, err := spec.Bind(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	return checks.Plan{Task: task, Params: p, Target: target, Risk: risk, MonthlyCostChangeUSD: cost}
}

func usd(f float64) *float64 { return &f }

func TestMatch(t *testing.T) {
	pol, err := Load(filepath.Join("testdata", "approvals.yaml"), tasks)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	scale := map[string]string{"deployment": "shop/api", "replicas": "5", "context": "kind-dev"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for k, v := range scale {
			m[k] = v
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name string
		plan checks.Plan
		now  time.Time
		rule string
		miss string
	}{
		{"within bounds", plan(t, "k8s.deployment.scale", "deployment/shop/api", checks.RiskMedium, usd(20), scale), now, "scale-shop", ""},
		{"a file", plan(t, "test.file.set", "file/x", checks.RiskLow, nil, map[string]string{"path": "x", "content": "NEW"}), now, "test-files", ""},
		{"too many replicas", plan(t, "k8s.deployment.scale", "deployment/shop/api", checks.RiskMedium, usd(20), with("replicas", "7")), now, "", "replicas 7 is outside 1–6"},
		{"another namespace", plan(t, "k8s.deployment.scale", "deployment/prod/api", checks.RiskMedium, usd(20), scale), now, "", `does not match "deployment/shop/*"`},
		{"riskier", plan(t, "k8s.deployment.scale", "deployment/shop/api", checks.RiskHigh, usd(20), scale), now, "", "risk HIGH is above max_risk MEDIUM"},
		{"dearer", plan(t, "k8s.deployment.scale", "deployment/shop/api", checks.RiskMedium, usd(80), scale), now, "", "monthly cost +80.00 USD is above max_monthly_cost_increase 50"},
		{"cost unknown", plan(t, "k8s.deployment.scale", "deployment/shop/api", checks.RiskMedium, nil, scale), now, "", "monthly cost is unknown"},
		{"another context", plan(t, "k8s.deployment.scale", "deployment/shop/api", checks.RiskMedium, usd(20), with("context", "prod")), now, "", `context "prod" is not one of kind-dev`},
		{"expired", plan(t, "k8s.deployment.scale", "deployment/shop/api", checks.RiskMedium, usd(20), scale), time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC), "", "expired 2027-06-30"},
		{"another value", plan(t, "test.file.set", "file/x", checks.RiskLow, nil, map[string]string{"path": "x", "content": "EVIL"}), now, "", `content "EVIL" is not one of NEW, v2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := pol.Match(tt.plan, tt.now)
			if tt.rule != "" {
				if err != nil || r.Name != tt.rule {
					t.Fatalf("Match = %q, %v; want rule %q", r.Name, err, tt.rule)
				}
				return
			}
			var nm *NoMatchError
			if !errors.As(err, &nm) || !errors.Is(err, ErrNoRule) || !strings.Contains(err.Error(), tt.miss) || !strings.Contains(err.Error(), "a rule would need task: "+tt.plan.Task) {
				t.Fatalf("Match = %q, %v; want no rule, saying %q and what a rule would need", r.Name, err, tt.miss)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const file = `rules:
  - name: a
    task: no.such.task
    target: "[x"
    max_risk: extreme
    expires: someday
    reason: r
    colour: blue
  - name: a
    task: test.file.set
    target: file/*
    params:
      nothing: {min: 1}
      content: {min: 3, max: 1}
    max_risk: low
    expires: 2027-01-01
    reason: r
  - name: b
    task: test.file.set
`
	_, err := Parse("approvals.yaml", []byte(file), tasks)
	want := []string{
		`approvals.yaml:3: rule "a".task: "no.such.task" is no write task`,
		`approvals.yaml:4: rule "a".target: "[x" is not a pattern`,
		`approvals.yaml:5: rule "a".max_risk: "extreme" is not a risk`,
		`approvals.yaml:6: rule "a".expires: "someday" is not a date`,
		`approvals.yaml:8: rule "a".colour: unknown key`,
		`approvals.yaml:9: name: rule "a" is named twice`,
		`approvals.yaml:14: rule "a".params.content: min 3 is above max 1`,
		`approvals.yaml:13: rule "a".params.nothing: test.file.set takes no parameter "nothing"`,
		`approvals.yaml:18: rule "b": target is required`,
		`rule "b": reason is required`,
	}
	if err == nil {
		t.Fatal("Parse accepted a broken policy")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("errors do not say %q:\n%v", w, err)
		}
	}
}

func TestLoadRefusesAFileOthersCanWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	data, err := os.ReadFile(filepath.Join("testdata", "approvals.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, tasks); err == nil || !strings.Contains(err.Error(), "chmod go-w") {
		t.Fatalf("Load of a world-writable policy = %v", err)
	}
	if _, err := Load(path+".none", tasks); !errors.Is(err, ErrNoPolicy) {
		t.Fatalf("Load of a missing policy = %v, want ErrNoPolicy", err)
	}
}
