package checks

import (
	"fmt"
	"math"
	"strings"
)

// Thresholds of the scale rules (docs/kubernetes.md and docs/aws.md, "How plans judge
// risk").
const (
	// IdlePercent: a target using less CPU than this share is idle.
	IdlePercent = 10
	// BusyPercent: a scale-down that would leave the remaining units using this share
	// of CPU or memory or more is risky.
	BusyPercent = 80
)

// ScaleFacts are what a scale plan's risk is judged from: the change, the load and
// what routes traffic to the target. The provider adds its own facts (an autoscaler
// that would undo the change, a disruption budget) with Plan.Raise.
type ScaleFacts struct {
	From, To int
	// Unit is what is counted: "replica", "instance".
	Unit string
	// CPU and Memory are today's use as a percentage of what the units have (the pods'
	// requests, the instances' capacity); nil when unknown.
	CPU, Memory *float64
	// Load says where the percentages come from, after "CPU 4% ": "of requests",
	// "average over the last hour".
	Load string
	// Dependents counts what routes traffic to the target; DependentsAre names their
	// kinds in the plural ("Services and Ingresses"), NoDependents says there are none
	// ("no Service or Ingress depends on it").
	Dependents                  int
	DependentsAre, NoDependents string
}

// JudgeScale records the risk of a scale from f, each reason stated: LOW up or
// unchanged; HIGH to zero; down, HIGH when the rest would be busy, LOW when idle with
// nothing depending on it, MEDIUM otherwise.
func JudgeScale(plan *Plan, f ScaleFacts) {
	switch {
	case f.To == f.From:
		plan.Raise(RiskLow, "no change in size")
	case f.To > f.From:
		plan.Raise(RiskLow, "scales up: more capacity and cost")
	case f.To == 0:
		reason := fmt.Sprintf("scales to zero: removes the last %s and nothing is left serving", f.Unit)
		if f.Dependents > 0 {
			reason += fmt.Sprintf("; %d %s route to it", f.Dependents, f.DependentsAre)
		}
		plan.Raise(RiskHigh, reason)
	case f.CPU == nil:
		plan.Raise(RiskMedium, "scales down with its load unknown: less capacity")
	default:
		judgeScaleDown(plan, f)
	}
}

func judgeScaleDown(plan *Plan, f ScaleFacts) {
	cpu, grow := *f.CPU, float64(f.From)/float64(f.To)
	switch {
	case cpu*grow >= BusyPercent:
		plan.Raise(RiskHigh, fmt.Sprintf("busy: CPU %.0f%% %s now, about %.0f%% after the change", cpu, f.Load, math.Round(cpu*grow)))
	case f.Memory != nil && *f.Memory*grow >= BusyPercent:
		plan.Raise(RiskHigh, fmt.Sprintf("busy: memory %.0f%% %s now, about %.0f%% after the change if the load spreads over fewer units", *f.Memory, f.Load, math.Round(*f.Memory*grow)))
	case cpu < IdlePercent && f.Dependents == 0:
		plan.Raise(RiskLow, fmt.Sprintf("idle (CPU %.0f%% %s, under %d%%) and %s", cpu, f.Load, IdlePercent, f.NoDependents))
	case cpu < IdlePercent:
		plan.Raise(RiskMedium, fmt.Sprintf("idle (CPU %.0f%% %s) but %d %s route to it: less spare capacity for them", cpu, f.Load, f.Dependents, f.DependentsAre))
	default:
		plan.Raise(RiskMedium, fmt.Sprintf("scales down: CPU %.0f%% %s now, about %.0f%% after the change", cpu, f.Load, math.Round(cpu*grow)))
	}
}

// NameRisk adds the name heuristic as one reason among others: a name that looks like
// production raises a MEDIUM plan to HIGH, and leaves a LOW one LOW since its facts
// found nothing at risk. what is "namespace", "context", "group".
func NameRisk(plan *Plan, what, name string) {
	if !strings.Contains(strings.ToLower(name), "prod") {
		return
	}
	reason := fmt.Sprintf("the %s %q looks like production", what, name)
	if plan.Risk == RiskLow {
		plan.Raise(RiskLow, reason+" (the facts above find nothing at risk, so the risk stays LOW)")
		return
	}
	plan.Raise(RiskHigh, reason)
}
