// Package ghtest is a wire-level stand-in for the GitHub REST API, for the GitHub
// provider's tests (the real API is not reachable from test machines): an
// httptest server holding repositories, workflows, runs, jobs, alerts, branch
// protection and rulesets, paginated with Link headers, answering conditional
// requests with 304s, sending rate-limit headers, 401/403/404 and secondary rate
// limits with Retry-After. Every response it sends is validated against GitHub's
// official OpenAPI description (npm @octokit/openapi, installed by
// scripts/gh-testenv) with kin-openapi; an invalid response fails the test. Fixture
// replays recorded real GitHub traffic from npm @octokit/fixtures.
package ghtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/clankerd/clankerd/internal/testenv/envscript"
)

// Spec is GitHub's OpenAPI description of api.github.com.
type Spec struct {
	doc *openapi3.T
	dir string // the npm install directory
}

var (
	loadOnce sync.Once
	loaded   *Spec
	loadErr  error
)

// Require returns GitHub's OpenAPI description, loaded once per test binary (a few
// seconds). Without it (scripts/gh-testenv install was not run) the test skips, or
// fails under CI=true.
func Require(t testing.TB) *Spec {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = load() })
	envscript.Require(t, loadErr == nil, "GitHub OpenAPI description", fmt.Sprint(loadErr))
	return loaded
}

// installDir is where scripts/gh-testenv installs the npm packages.
func installDir() (string, error) {
	script, err := envscript.Find("gh-testenv")
	if err != nil {
		return "", err
	}
	out, err := exec.Command(script, "dir").Output()
	if err != nil {
		return "", fmt.Errorf("%s dir: %w", script, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func load() (*Spec, error) {
	dir, err := installDir()
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "node_modules", "@octokit", "openapi", "generated", "api.github.com.json")
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("%s is missing: run scripts/gh-testenv install", file)
	}
	doc, err := openapi3.NewLoader().LoadFromFile(file)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", file, err)
	}
	return &Spec{doc: doc, dir: dir}, nil
}

// operation finds the operation of a path template ("/repos/{owner}/{repo}").
func (s *Spec) operation(method, template string) (*openapi3.PathItem, *openapi3.Operation, error) {
	item := s.doc.Paths.Value(template)
	if item == nil {
		return nil, nil, fmt.Errorf("the OpenAPI description has no path %s", template)
	}
	op := item.GetOperation(method)
	if op == nil {
		return nil, nil, fmt.Errorf("the OpenAPI description has no %s %s", method, template)
	}
	return item, op, nil
}

// Validate checks one response against the operation of method and template: its
// status, headers and JSON body.
func (s *Spec) Validate(req *http.Request, template string, pathParams map[string]string, status int, header http.Header, body []byte) error {
	item, op, err := s.operation(req.Method, template)
	if err != nil {
		return err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: pathParams,
			Route: &routers.Route{Spec: s.doc, Path: template, PathItem: item, Method: req.Method, Operation: op},
		},
		Status: status, Header: header,
		Options: &openapi3filter.Options{MultiError: true},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// responseSchema is the JSON schema of an operation's answer with status.
func (s *Spec) responseSchema(method, template string, status int) (*openapi3.Schema, error) {
	_, op, err := s.operation(method, template)
	if err != nil {
		return nil, err
	}
	resp := op.Responses.Status(status)
	if resp == nil || resp.Value == nil {
		return nil, fmt.Errorf("%s %s declares no %d answer", method, template, status)
	}
	mt := resp.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil, fmt.Errorf("%s %s %d has no JSON body", method, template, status)
	}
	return mt.Schema.Value, nil
}

// Complete fills in every required property that v (decoded JSON: maps, slices,
// values) lacks, as the schema of the operation's answer describes it, so a
// stand-in answer need only set the fields a test is about. Filled-in values are
// plain: null where the schema allows it, the first enum value, a fixed time.
func (s *Spec) Complete(method, template string, status int, v any) (any, error) {
	sch, err := s.responseSchema(method, template, status)
	if err != nil {
		return nil, err
	}
	return complete(sch, v, 0), nil
}

// maxDepth bounds how deep Complete descends into filled-in objects.
const maxDepth = 12

func complete(sch *openapi3.Schema, v any, depth int) any {
	if sch == nil {
		return v
	}
	if len(sch.AllOf) > 0 {
		for _, sub := range sch.AllOf {
			v = complete(sub.Value, v, depth)
		}
		if !sch.Type.Is("object") && len(sch.Properties) == 0 {
			return v
		}
	}
	if v == nil && (len(sch.OneOf) > 0 || len(sch.AnyOf) > 0) {
		alts := append(append(openapi3.SchemaRefs{}, sch.OneOf...), sch.AnyOf...)
		return complete(alts[0].Value, nil, depth)
	}
	if v != nil && (len(sch.OneOf) > 0 || len(sch.AnyOf) > 0) {
		alts := append(append(openapi3.SchemaRefs{}, sch.OneOf...), sch.AnyOf...)
		if m, ok := v.(map[string]any); ok {
			for _, a := range alts {
				if a.Value != nil && a.Value.Type.Is("object") {
					return complete(a.Value, m, depth)
				}
			}
		}
		return v
	}
	switch {
	case sch.Type.Is("object") || len(sch.Properties) > 0:
		m, ok := v.(map[string]any)
		if v == nil {
			if depth > maxDepth {
				return map[string]any{}
			}
			m, ok = map[string]any{}, true
		}
		if !ok {
			return v
		}
		for _, name := range sch.Required {
			prop := sch.Properties[name]
			if _, has := m[name]; has || prop == nil {
				continue
			}
			m[name] = plain(prop.Value, depth+1)
		}
		for name, val := range m {
			if prop := sch.Properties[name]; prop != nil && val != nil {
				m[name] = complete(prop.Value, val, depth+1)
			}
		}
		return m
	case sch.Type.Is("array"):
		xs, ok := v.([]any)
		if !ok || sch.Items == nil {
			return v
		}
		for i, x := range xs {
			xs[i] = complete(sch.Items.Value, x, depth+1)
		}
		return xs
	}
	return v
}

// plain is a valid value of a schema that nothing sets.
func plain(sch *openapi3.Schema, depth int) any {
	if sch == nil {
		return nil
	}
	if sch.Nullable {
		return nil
	}
	if len(sch.Enum) > 0 {
		return sch.Enum[0]
	}
	if len(sch.AllOf) > 0 || len(sch.OneOf) > 0 || len(sch.AnyOf) > 0 {
		return complete(sch, nil, depth)
	}
	switch {
	case sch.Type.Is("string"):
		switch sch.Format {
		case "date-time":
			return "2026-01-01T00:00:00Z"
		case "date":
			return "2026-01-01"
		case "uri", "url":
			return "https://api.github.com/stand-in"
		case "email":
			return "octocat@example.com"
		case "uuid":
			return "00000000-0000-4000-8000-000000000000"
		}
		return "stand-in"
	case sch.Type.Is("integer"), sch.Type.Is("number"):
		if sch.Min != nil && *sch.Min > 1 {
			return *sch.Min
		}
		return 1
	case sch.Type.Is("boolean"):
		return false
	case sch.Type.Is("array"):
		return []any{}
	case sch.Type.Is("object") || len(sch.Properties) > 0:
		return complete(sch, nil, depth)
	}
	return "stand-in"
}
