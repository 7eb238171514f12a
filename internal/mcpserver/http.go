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

	"github.com/clankerd/clankerd/internal/httpx"
)

// MaxBody bounds a request body.
const MaxBody = 1 << 20

// HTTPOptions secure the HTTP transport.
type HTTPOptions struct {
	// Token is required as "Authorization: Bearer TOKEN".
	Token string
	// AllowOrigins lists extra browser origins allowed besides loopback ones.
	AllowOrigins []string
}

// Handler serves MCP over streamable HTTP at /mcp: a bearer token is required, the
// Origin header (when a browser sends one) must be a loopback origin or listed, and
// bodies are limited to MaxBody.
func (s *Server) Handler(o HTTPOptions) http.Handler {
	srv := s.MCP()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{MaxRequestBodyBytes: MaxBody})
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && !originAllowed(origin, o.AllowOrigins) {
			http.Error(w, "origin not allowed (DNS rebinding protection): "+origin, http.StatusForbidden)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || o.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(o.Token)) != 1 {
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
			if code, msg := checkJSONRPC(body); code != 0 {
				rpcError(w, code, msg)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		mux.ServeHTTP(w, r)
	})
}

// checkJSONRPC returns a JSON-RPC error code and message for a body that is not
// JSON (-32700) or not a JSON-RPC 2.0 message or batch (-32600), and 0 otherwise.
func checkJSONRPC(body []byte) (int, string) {
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return -32700, "Parse error: the body is not JSON: " + err.Error()
	}
	var msgs []map[string]json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(raw, &msgs); err != nil || len(msgs) == 0 {
			return -32600, "Invalid Request: a batch must be a non-empty array of JSON-RPC 2.0 objects"
		}
	} else {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(raw, &one); err != nil {
			return -32600, "Invalid Request: not a JSON-RPC 2.0 object"
		}
		msgs = append(msgs, one)
	}
	for _, m := range msgs {
		if string(m["jsonrpc"]) != `"2.0"` {
			return -32600, `Invalid Request: "jsonrpc" must be "2.0"`
		}
		if _, isCall := m["method"]; !isCall {
			if _, isResult := m["result"]; !isResult {
				if _, isErr := m["error"]; !isErr {
					return -32600, "Invalid Request: neither a request, a notification nor a response"
				}
			}
		}
	}
	return 0, ""
}

func rpcError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": nil, "error": map[string]any{"code": code, "message": msg}})
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
