package control

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// TestEveryOperationIsServed: each Op declared in ops.go is in served under a name of
// its own, so a new operation cannot work in-process and fail through the daemon.
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
	if len(declared) != len(served) {
		t.Errorf("ops.go declares %d operations and serves %d: add the new one to served", len(declared), len(served))
	}
}
