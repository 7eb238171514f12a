package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/clankerd/clankerd/internal/view"
)

// docs/checks.md is the catalog of a full build, as `lint --list -o markdown` writes
// it; the test fails when a check, task or parameter changed and the file was not
// regenerated.
func TestChecksDocIsCurrent(t *testing.T) {
	for _, name := range []string{"Kubernetes", "AWS", "GitHub"} {
		if !providerLinked(t, name) {
			t.Skipf("this build leaves the %s provider out; docs/checks.md describes a full build", name)
		}
	}
	provs, err := (&cmdline{logger: slog.New(slog.DiscardHandler)}).newProviders(false)
	if err != nil {
		t.Fatal(err)
	}
	defer provs.Close()
	if _, ok := provs.registry.Task("test.file.set"); ok {
		t.Skip("this build has the test tasks (clankerd_testtasks); docs/checks.md describes a release build")
	}
	var want bytes.Buffer
	if err := view.CatalogOf(provs.registry).WriteMarkdown(&want); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "checks.md")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the check reference: %v; make it with `%s`", err, view.ChecksDocCommand)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("docs/checks.md is stale: the registry's checks, tasks or parameters changed. Regenerate it at the repository's root with:\n\t%s", view.ChecksDocCommand)
	}
}
