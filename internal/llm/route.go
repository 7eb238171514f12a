package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ollama/ollama/api"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/route"
)

// Router routes questions with the model's tool calling: every check and task of the
// catalog is a tool (id, description, parameter schema). What the model picks is
// validated against the catalog; on an invalid pick it gets the error and one more
// try, then the question fails with a clear error.
type Router struct {
	Client *Client
	// Catalog is the registry the model picks from.
	Catalog route.Catalog
}

const routeSystem = `You route questions about infrastructure to checks. Call the tool (or tools) whose check answers the question, with parameters taken from the question. Only call tools; do not answer in text. Use only the tools and parameters given. A request to change something maps to a task tool.`

// toolName is how a check id is named as a tool: some models mishandle dots.
func toolName(id string) string { return strings.ReplaceAll(id, ".", "__") }

func (r *Router) tools() (api.Tools, map[string]string) {
	var tools api.Tools
	names := map[string]string{}
	specs := r.Catalog.Specs()
	sort.Slice(specs, func(i, j int) bool { return specs[i].ID < specs[j].ID })
	for _, s := range specs {
		props := api.NewToolPropertiesMap()
		var required []string
		for _, p := range s.Params {
			prop := api.ToolProperty{Type: api.PropertyType{jsonType(p.Type)}, Description: p.Doc}
			for _, c := range p.Choices {
				prop.Enum = append(prop.Enum, c)
			}
			props.Set(p.Name, prop)
			if p.Required {
				required = append(required, p.Name)
			}
		}
		_, kind, _ := r.Catalog.Lookup(s.ID)
		desc := s.Description
		if kind == checks.KindTask {
			desc = "TASK (queues a change for approval): " + desc
		}
		name := toolName(s.ID)
		names[name] = s.ID
		tools = append(tools, api.Tool{Type: "function", Function: api.ToolFunction{Name: name, Description: desc,
			Parameters: api.ToolFunctionParameters{Type: "object", Properties: props, Required: required}}})
	}
	return tools, names
}

func jsonType(t checks.ParamType) string {
	switch t {
	case checks.Int:
		return "integer"
	case checks.Float:
		return "number"
	case checks.Bool:
		return "boolean"
	}
	return "string"
}

// RouteQuestion asks the model which checks answer the question. deep uses the
// escalation model when one is configured.
func (r *Router) RouteQuestion(ctx context.Context, question string, deep bool) ([]route.Route, error) {
	model := r.Client.Model
	if deep && r.Client.Deep != "" {
		model = r.Client.Deep
	}
	tools, names := r.tools()
	msgs := []api.Message{
		{Role: "system", Content: routeSystem},
		{Role: "user", Content: question},
	}
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		reply, err := r.Client.chat(ctx, model, msgs, tools)
		if err != nil {
			return nil, err
		}
		routes, err := r.validate(reply, names)
		if err == nil {
			return routes, nil
		}
		lastErr = err
		// One more try, told what was wrong.
		msgs = append(msgs, reply, api.Message{Role: "tool", Content: "error: " + err.Error() + ". Call valid tools with valid parameters."})
	}
	return nil, fmt.Errorf("the model's choice was invalid twice: %w", lastErr)
}

// validate turns the model's tool calls into routes, refusing unknown tools and
// parameters that do not bind.
func (r *Router) validate(reply api.Message, names map[string]string) ([]route.Route, error) {
	if len(reply.ToolCalls) == 0 {
		return nil, errors.New("the model called no tool")
	}
	var routes []route.Route
	var errs []error
	for _, call := range reply.ToolCalls {
		id, ok := names[call.Function.Name]
		if !ok {
			id, ok = names[toolName(call.Function.Name)] // a model that kept the dots
		}
		if !ok {
			errs = append(errs, fmt.Errorf("there is no tool %q", call.Function.Name))
			continue
		}
		spec, kind, _ := r.Catalog.Lookup(id)
		params := map[string]string{}
		for k, v := range call.Function.Arguments.All() {
			params[k] = argString(v)
		}
		if _, err := spec.Bind(params, nil); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", call.Function.Name, err))
			continue
		}
		routes = append(routes, route.Route{Check: id, Kind: kind.String(), Params: params, Why: "picked by the model"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(routes) > route.MaxRoutes {
		routes = routes[:route.MaxRoutes]
	}
	return routes, nil
}

// argString writes a tool argument as a parameter value.
func argString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprintf("%d", int64(x))
		}
		return fmt.Sprintf("%g", x)
	case bool:
		return fmt.Sprintf("%t", x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = argString(e)
		}
		return strings.Join(parts, ",")
	}
	b, _ := json.Marshal(v)
	return string(b)
}
