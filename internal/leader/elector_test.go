package leader

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestRunRejects(t *testing.T) {
	noop := func(context.Context) {}
	tests := []struct {
		name string
		e    Elector
		lead func(context.Context)
		want string // "" = no error
	}{
		{"lease without a client", &KubeLease{}, noop, "needs a Kubernetes client"},
		{"lease without lead", &KubeLease{Client: kubernetes.NewForConfigOrDie(&rest.Config{Host: "http://127.0.0.1:1"})}, nil, "needs a lead function"},
		{"advisory without lead", &PGAdvisory{DSN: "postgres://x@127.0.0.1:1/postgres"}, nil, "needs a lead function"},
		{"advisory with a bad DSN", &PGAdvisory{DSN: "postgres://%zz"}, noop, "parsing the PostgreSQL DSN"},
		// An unreachable server is retried until the context ends, without leading.
		{"advisory on an unreachable server", &PGAdvisory{DSN: "postgres://x@127.0.0.1:1/postgres?connect_timeout=1", RetryPeriod: 50 * time.Millisecond}, func(context.Context) { t.Error("led without a server") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			err := tt.e.Run(ctx, tt.lead)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Run: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Run error = %v, want one containing %q", err, tt.want)
			}
			if tt.e.IsLeader() {
				t.Error("IsLeader after a Run that never led")
			}
		})
	}
}

func TestDefaultIdentity(t *testing.T) {
	a, b := DefaultIdentity(), DefaultIdentity()
	if a == b || !strings.Contains(a, "_") {
		t.Errorf("DefaultIdentity = %q, %q: want host_random, different each time", a, b)
	}
}
