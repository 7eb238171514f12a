package control

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// inProcessOnly are the operations the socket does not serve, and why.
var inProcessOnly = map[string]string{
	// The daemon audits its own events (heartbeat loads) through its *Local; a client
	// that could append records could write any actor and action into the audit log.
	"OpAppendAudit": "no client may append an audit record of its choosing",
}

// TestEveryOperationIsServed: each Op declared in ops.go is in served under a name of
// its own, so a new operation cannot work in-process and fail through the daemon,
// unless it is in inProcessOnly.
func TestEveryOperationIsServed(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "ops.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, spec := range g.Specs {
			for _, n := range spec.(*ast.ValueSpec).Names {
				if strings.HasPrefix(n.Name, "Op") {
					declared[n.Name] = true
				}
			}
		}
	}
	names := map[string]bool{}
	for _, op := range served {
		if names[op.opName()] {
			t.Errorf("two operations are called %q", op.opName())
		}
		names[op.opName()] = true
	}
	for name := range inProcessOnly {
		if !declared[name] {
			t.Errorf("inProcessOnly names %s, which ops.go does not declare", name)
		}
	}
	if len(declared)-len(inProcessOnly) != len(served) {
		t.Errorf("ops.go declares %d operations, %d of them in-process only, and serves %d: add the new one to served", len(declared), len(inProcessOnly), len(served))
	}
	for _, op := range served {
		if op.opName() == OpAppendAudit.opName() {
			t.Errorf("%s is served on the socket; it is in-process only", op.opName())
		}
	}
}
