package redact

import (
	"fmt"
	"testing"
)

// BenchmarkString redacts the texts of 500 findings (summaries and resources, as a
// Kubernetes check at 10,000 pods reports them), with the needs tests and with every
// expression run, in the same run.
func BenchmarkString(b *testing.B) {
	var texts []string
	for i := range 500 {
		texts = append(texts, fmt.Sprintf("deployment ns-%d/app-%d has containers without resource requests", i%20, i), fmt.Sprintf("deployment/ns-%d/app-%d", i%20, i))
	}
	for name, fn := range map[string]func(string) string{"needs": String, "every-pattern": everyPattern} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				for _, s := range texts {
					fn(s)
				}
			}
		})
	}
}
