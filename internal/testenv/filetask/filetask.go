// Package filetask is a write task that sets a file's content. It exists so that the
// plan machinery (queue, approve, drift, expiry) can be driven end to end through the
// real binary in tests: it is registered only in builds with the clankerd_testtasks
// tag.
package filetask

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/clankerd/clankerd/checks"
)

// SetContent is the task test.file.set: path=FILE content=TEXT.
type SetContent struct{}

var _ checks.Task = SetContent{}

// Spec describes test.file.set.
func (SetContent) Spec() checks.Spec {
	return checks.Spec{
		ID:          "test.file.set",
		Description: "set a file's content (test builds only)",
		Keywords:    []string{"test file"},
		Params: []checks.ParamSpec{
			{Name: "path", Type: checks.String, Required: true, Doc: "file to write"},
			{Name: "content", Type: checks.String, Required: true, Doc: "content to write"},
		},
	}
}

// Extract takes path=FILE and content=TEXT as a question writes them ("set the test
// file path=/tmp/f content=NEW"), so that `clankerd ask` can be driven through the
// task; it implements the router's checks.Extractor.
func (SetContent) Extract(q checks.Question, spec checks.Spec, _ map[string][]string) []checks.Proposal {
	e := checks.NewExtraction(spec)
	for _, field := range strings.Fields(q.Text) {
		if name, value, ok := strings.Cut(field, "="); ok {
			e.Set(name, value, "the question")
		}
	}
	return e.Proposals()
}

// Names knows no names; it implements checks.Vocabulary.
func (SetContent) Names(context.Context) map[string][]string { return nil }

func observe(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{"exists": "false"}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	return map[string]string{"exists": "true", "sha256": hex.EncodeToString(sum[:]), "content": string(data)}, nil
}

// Plan reads the file.
func (SetContent) Plan(_ context.Context, p checks.Params) (checks.Plan, error) {
	obs, err := observe(p.Get("path"))
	if err != nil {
		return checks.Plan{}, err
	}
	return checks.Plan{
		Target:      "file/" + p.Get("path"),
		Observed:    obs,
		Change:      fmt.Sprintf("content %q → %q", obs["content"], p.Get("content")),
		Risk:        checks.RiskLow,
		RiskReasons: []string{"a test file"},
	}, nil
}

// Apply re-reads the file and writes the new content when it has not changed.
func (SetContent) Apply(_ context.Context, plan checks.Plan) (checks.Applied, error) {
	path := plan.Params.Get("path")
	live, err := observe(path)
	if err != nil {
		return checks.Applied{}, err
	}
	if err := checks.CompareObserved(plan.Target, plan.Observed, live); err != nil {
		return checks.Applied{}, err
	}
	if err := os.WriteFile(path, []byte(plan.Params.Get("content")), 0o600); err != nil {
		return checks.Applied{}, fmt.Errorf("writing %s: %w", path, err)
	}
	return checks.Applied{Summary: "wrote " + path}, nil
}
