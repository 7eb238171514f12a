package checks

import (
	"strings"
	"testing"
)

func TestJudgeScale(t *testing.T) {
	pct := func(f float64) *float64 { return &f }
	tests := []struct {
		name   string
		facts  ScaleFacts
		prefix string // the namespace or group name
		want   Risk
		reason string
	}{
		{"up", ScaleFacts{From: 2, To: 4}, "", RiskLow, "scales up"},
		{"up in production", ScaleFacts{From: 2, To: 4}, "production", RiskLow, "nothing at risk, so the risk stays LOW"},
		{"to zero", ScaleFacts{From: 2, To: 0, Unit: "instance", Dependents: 1, DependentsAre: "target groups"}, "", RiskHigh, "removes the last instance and nothing is left serving; 1 target groups route to it"},
		{"down, load unknown", ScaleFacts{From: 4, To: 2}, "", RiskMedium, "its load unknown"},
		{"down, load unknown, in production", ScaleFacts{From: 4, To: 2}, "prod-eu", RiskHigh, `"prod-eu" looks like production`},
		{"down, idle, nothing depends", ScaleFacts{From: 4, To: 2, CPU: pct(3), Load: "of requests", NoDependents: "nothing depends on it"}, "production", RiskLow, "idle (CPU 3% of requests, under 10%) and nothing depends on it"},
		{"down, idle, served", ScaleFacts{From: 4, To: 2, CPU: pct(3), Load: "of requests", Dependents: 2, DependentsAre: "Services"}, "", RiskMedium, "but 2 Services route to it"},
		{"down, busy CPU", ScaleFacts{From: 4, To: 2, CPU: pct(45), Load: "of requests"}, "", RiskHigh, "busy: CPU 45% of requests now, about 90% after"},
		{"down, busy memory", ScaleFacts{From: 4, To: 3, CPU: pct(20), Memory: pct(70), Load: "of requests"}, "", RiskHigh, "busy: memory 70%"},
		{"down, moderate", ScaleFacts{From: 4, To: 3, CPU: pct(30), Load: "average over the last hour"}, "", RiskMedium, "CPU 30% average over the last hour now, about 40% after"},
	}
	for _, tt := range tests {
		plan := Plan{Risk: RiskLow}
		JudgeScale(&plan, tt.facts)
		NameRisk(&plan, "namespace", tt.prefix)
		if got := strings.Join(plan.RiskReasons, "; "); plan.Risk != tt.want || !strings.Contains(got, tt.reason) {
			t.Errorf("%s: %s: %s; want %s with %q", tt.name, plan.Risk, got, tt.want, tt.reason)
		}
	}
}
