package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/control"
)

// toolAccess is what each tool needs of an MCP caller on a team server (HTTPOptions
// with an Authenticator): the same virtual resources of API group clankerd.dev as the
// team API (docs/team.md, "Who may do what"). A tool missing here is refused there.
// No tool decides anything, and an MCP caller's decisions are refused by the state
// API too (control.ErrAgentDecision), whatever RBAC grants.
var toolAccess = map[string]control.Access{
	"clanker_version":        {Verb: "get", Resource: "status"},
	"clanker_route_question": {Verb: "list", Resource: "findings"},
	// And create on plans when it names a task (it queues a plan then).
	"clanker_run_command":   {Verb: "list", Resource: "findings"},
	"clankerd_findings":     {Verb: "list", Resource: "findings"},
	"clankerd_changes":      {Verb: "list", Resource: "changes"},
	"clankerd_baselines":    {Verb: "list", Resource: "baselines"},
	"clankerd_plans":        {Verb: "list", Resource: "plans"},
	"clankerd_propose_plan": {Verb: "create", Resource: "plans"},
}

// callerKey is the TokenInfo.Extra key of the reviewed caller.
const callerKey = "clankerd.caller"

// teamAuth authenticates every HTTP request's bearer token with authn (401 when the
// cluster refuses it, 503 when it cannot tell) and hands the caller to the SDK as the
// request's token info, which also ties an MCP session to its user.
func teamAuth(authn control.Authenticator, next http.Handler) http.Handler {
	verified := auth.RequireBearerToken(func(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		c, ok := control.CallerFrom(r.Context())
		if !ok {
			return nil, auth.ErrInvalidToken
		}
		// The Authenticator's cache bounds how long a token is trusted; the SDK wants an
		// expiry for the request itself.
		return &auth.TokenInfo{UserID: c.User, Expiration: time.Now().Add(time.Hour), Extra: map[string]any{callerKey: c}}, nil
	}, nil)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(token) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="clankerd"`)
			http.Error(w, "a bearer token is required: a Kubernetes token this cluster accepts (TokenReview)", http.StatusUnauthorized)
			return
		}
		c, err := authn.Authenticate(r.Context(), strings.TrimSpace(token))
		switch {
		case errors.Is(err, control.ErrUnauthenticated):
			w.Header().Set("WWW-Authenticate", `Bearer realm="clankerd"`)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		case err != nil:
			http.Error(w, fmt.Sprintf("%v: TokenReview: %v", control.ErrReviewUnavailable, err), http.StatusServiceUnavailable)
			return
		}
		c.Via = control.ViaMCP
		verified.ServeHTTP(w, r.WithContext(control.WithCaller(r.Context(), c)))
	})
}

// authorizeTools is the receiving middleware of a team server: each tools/call runs
// only when authz grants the caller the tool's access, and then with the caller (an
// agent: control.ViaMCP) in its context, so what it records is audited under the
// caller's name and groups and no decision it could reach is taken.
func (s *Server) authorizeTools(authz control.Authorizer) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method != "tools/call" {
				return next(ctx, method, req)
			}
			c, ok := callerOf(req)
			if !ok {
				return nil, fmt.Errorf("%w: the tool call carries no reviewed caller", control.ErrUnauthenticated)
			}
			params, _ := req.GetParams().(*mcp.CallToolParamsRaw)
			if params == nil {
				return nil, errors.New("tools/call without parameters")
			}
			for _, a := range s.toolNeeds(params) {
				allowed, err := authz.Authorize(ctx, c, a)
				if err != nil {
					return nil, fmt.Errorf("%w: SubjectAccessReview of %s for %s: %v", control.ErrReviewUnavailable, a, c.User, err)
				}
				if !allowed {
					return nil, fmt.Errorf("%w: %s may not %s %s (API group %s), which %s needs", control.ErrForbidden, c.User, a.Verb, a.Resource, control.Group, params.Name)
				}
			}
			return next(control.WithCaller(ctx, c), method, req)
		}
	}
}

// toolNeeds is what a call of the tool needs; a tool without an entry needs what no
// one is granted.
func (s *Server) toolNeeds(p *mcp.CallToolParamsRaw) []control.Access {
	a, ok := toolAccess[p.Name]
	if !ok {
		return []control.Access{{Verb: "call", Resource: "unlisted-tools"}}
	}
	needs := []control.Access{a}
	if p.Name == "clanker_run_command" {
		var in runIn
		if json.Unmarshal(p.Arguments, &in) == nil && s.Catalog != nil {
			if _, kind, ok := s.Catalog.Lookup(in.Check); ok && kind == checks.KindTask {
				needs = append(needs, toolAccess["clankerd_propose_plan"])
			}
		}
	}
	return needs
}

// callerOf is the reviewed caller of a request teamAuth let through.
func callerOf(req mcp.Request) (control.Caller, bool) {
	extra := req.GetExtra()
	if extra == nil || extra.TokenInfo == nil {
		return control.Caller{}, false
	}
	c, ok := extra.TokenInfo.Extra[callerKey].(control.Caller)
	return c, ok
}
