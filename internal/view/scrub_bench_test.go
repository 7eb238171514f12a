package view

import (
	"fmt"
	"reflect"
	"testing"
)

// BenchmarkScrubFindings cleans an output of 500 findings of one check, as `check -o
// json` of a Kubernetes check at 10,000 pods makes, with and without the memo of
// repeated texts, in the same run.
func BenchmarkScrubFindings(b *testing.B) {
	type finding struct {
		Check, Resource, Problem, Severity, Summary, Fix string
		Evidence                                         map[string]string
	}
	type output struct{ Findings []finding }
	make500 := func() *output {
		o := &output{}
		for i := range 500 {
			o.Findings = append(o.Findings, finding{
				Check: "k8s.resources.missing", Resource: fmt.Sprintf("deployment/ns-%d/app-%d", i%20, i), Problem: "no-requests", Severity: "low",
				Summary:  fmt.Sprintf("deployment ns-%d/app-%d has containers without resource requests", i%20, i),
				Fix:      "set resources.requests for cpu and memory on every container (kubectl set resources deployment/NAME --requests=cpu=100m,memory=128Mi)",
				Evidence: map[string]string{"containers": "app, sidecar", "namespace": fmt.Sprintf("ns-%d", i%20), "image": "registry.example.com/app:1.2.3"},
			})
		}
		return o
	}
	for _, c := range []struct {
		name string
		memo bool
	}{{"memo", true}, {"no-memo", false}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				o := make500()
				sc := scrubber{}
				if c.memo {
					sc.memo = map[memoKey]string{}
				}
				sc.value(reflect.ValueOf(o).Elem(), false)
			}
		})
	}
}
