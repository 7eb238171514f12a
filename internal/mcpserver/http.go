package mcpserver

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/httpx"
)

// MaxBody bounds a request body.
const MaxBody = 1 << 20

// HTTPOptions secure the HTTP transport.
type HTTPOptions struct {
	// Token is required as "Authorization: Bearer TOKEN", unless Authenticator is set.
	Token string
	// Authenticator and Authorizer, on a team server, replace Token: the bearer token
	// is a Kubernetes token reviewed by Authenticator, and each tool call is allowed
	// by Authorizer (toolAccess). Both or neither.
	Authenticator control.Authenticator
	Authorizer    control.Authorizer
	// AllowOrigins lists extra browser origins allowed besides loopback ones.
	AllowOrigins []string
}

// Handler serves MCP over streamable HTTP at /mcp: a bearer token is required (on a
// team server a Kubernetes token, each tool call authorized by RBAC: teamAuth), the
// Origin header (when a browser sends one) must be a loopback origin or listed, and
// bodies are limited to MaxBody. A body that is not JSON-RPC 2.0 gets a JSON-RPC error
// (-32700, -32600), and so does a request for a method the server does not have
// (-32601), where the SDK would answer plain text. (httpx.Serve checks the Host
// header on a loopback listener.)
func (s *Server) Handler(o HTTPOptions) http.Handler {
	srv := s.MCP()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{MaxRequestBodyBytes: MaxBody})
	team := o.Authenticator != nil && o.Authorizer != nil
	if team {
		srv.AddReceivingMiddleware(s.authorizeTools(o.Authorizer))
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && !originAllowed(origin, o.AllowOrigins) {
			http.Error(w, "origin not allowed (DNS rebinding protection): "+origin, http.StatusForbidden)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !team && (!ok || o.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(o.Token)) != 1) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="clankerd"`)
			http.Error(w, "a bearer token is required: see `clankerd mcp token`", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &tooBig):
				http.Error(w, fmt.Sprintf("request body over %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
				return
			case err != nil:
				rpcError(w, -32700, "Parse error: "+err.Error())
				return
			}
			msgs, code, msg := checkJSONRPC(body)
			if code != 0 {
				rpcError(w, code, msg)
				return
			}
			if answerUnknownMethods(w, msgs, bytes.HasPrefix(bytes.TrimSpace(body), []byte("["))) {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		mux.ServeHTTP(w, r)
	})
	if team {
		return teamAuth(o.Authenticator, outer)
	}
	return outer
}

// checkJSONRPC returns the messages of a body (one, or a batch), or a JSON-RPC error
// code and message for a body that is not JSON (-32700) or not a JSON-RPC 2.0 message
// or batch (-32600); the code is 0 when the body is well formed.
func checkJSONRPC(body []byte) ([]map[string]json.RawMessage, int, string) {
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, -32700, "Parse error: the body is not JSON: " + err.Error()
	}
	var msgs []map[string]json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(raw, &msgs); err != nil || len(msgs) == 0 {
			return nil, -32600, "Invalid Request: a batch must be a non-empty array of JSON-RPC 2.0 objects"
		}
	} else {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, -32600, "Invalid Request: not a JSON-RPC 2.0 object"
		}
		msgs = append(msgs, one)
	}
	for _, m := range msgs {
		if string(m["jsonrpc"]) != `"2.0"` {
			return nil, -32600, `Invalid Request: "jsonrpc" must be "2.0"`
		}
		if method, isCall := m["method"]; isCall {
			var s string
			if json.Unmarshal(method, &s) != nil {
				return nil, -32600, `Invalid Request: "method" must be a string`
			}
			continue
		}
		if _, isResult := m["result"]; !isResult {
			if _, isErr := m["error"]; !isErr {
				return nil, -32600, "Invalid Request: neither a request, a notification nor a response"
			}
		}
	}
	return msgs, 0, ""
}

// receivedMethods are the methods an MCP client may send that the SDK's server
// handles: its table (serverMethodInfos in go-sdk's mcp/server.go) is not exported.
// TestReceivedMethodsAreTheSDKs checks each against the SDK; a method the SDK adds
// later is answered -32601 until it is added here.
var receivedMethods = []string{
	"completion/complete", "initialize", "logging/setLevel", "ping",
	"prompts/get", "prompts/list",
	"resources/list", "resources/read", "resources/subscribe", "resources/templates/list", "resources/unsubscribe",
	"server/discover", "subscriptions/listen", "tools/call", "tools/list",
	"notifications/cancelled", "notifications/initialized", "notifications/progress", "notifications/roots/list_changed",
}

// rpcResponse is a JSON-RPC 2.0 error response.
type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   rpcErrorObject  `json:"error"`
}

type rpcErrorObject struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// answerUnknownMethods answers, and reports true, when a message calls a method the
// server does not have: each such request gets a -32601 error with its id (200, as
// any JSON-RPC response), a notification none (202: JSON-RPC does not answer
// notifications). A batch holding one is answered with the errors, and none of its
// messages is run.
func answerUnknownMethods(w http.ResponseWriter, msgs []map[string]json.RawMessage, batch bool) bool {
	unknown := false
	var errs []rpcResponse
	for _, m := range msgs {
		var method string
		if raw, isCall := m["method"]; !isCall || json.Unmarshal(raw, &method) != nil || slices.Contains(receivedMethods, method) {
			continue
		}
		unknown = true
		if id, isRequest := m["id"]; isRequest {
			errs = append(errs, rpcResponse{JSONRPC: "2.0", ID: id, Error: rpcErrorObject{Code: -32601, Message: fmt.Sprintf("Method not found: %q", method)}})
		}
	}
	switch {
	case !unknown:
		return false
	case len(errs) == 0:
		w.WriteHeader(http.StatusAccepted)
	case batch:
		writeRPC(w, http.StatusOK, errs)
	default:
		writeRPC(w, http.StatusOK, errs[0])
	}
	return true
}

// rpcError answers a body that is not a JSON-RPC message: 400, with no id.
func rpcError(w http.ResponseWriter, code int, msg string) {
	writeRPC(w, http.StatusBadRequest, rpcResponse{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: rpcErrorObject{Code: code, Message: msg}})
}

func writeRPC(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func originAllowed(origin string, extra []string) bool {
	if slices.Contains(extra, origin) {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return httpx.IsLoopbackHost(u.Hostname())
}
