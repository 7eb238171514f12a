package mcpserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestAnswerUnknownMethods(t *testing.T) {
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, 0, ""},
		{`{"jsonrpc":"2.0","id":1,"result":{}}`, 0, ""},
		{`{"jsonrpc":"2.0","id":7,"method":"no/such"}`, http.StatusOK, `{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found: \"no/such\""}}`},
		{`{"jsonrpc":"2.0","id":"x","method":"no/such"}`, http.StatusOK, `{"jsonrpc":"2.0","id":"x","error":{"code":-32601,"message":"Method not found: \"no/such\""}}`},
		{`{"jsonrpc":"2.0","method":"notifications/no_such"}`, http.StatusAccepted, ``},
		{`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"a"},{"jsonrpc":"2.0","id":3,"method":"b"}]`, http.StatusOK,
			`[{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"Method not found: \"a\""}},{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"Method not found: \"b\""}}]`},
	} {
		msgs, code, msg := checkJSONRPC([]byte(tc.body))
		if code != 0 {
			t.Fatalf("checkJSONRPC(%s) = %d %s", tc.body, code, msg)
		}
		w := httptest.NewRecorder()
		answered := answerUnknownMethods(w, msgs, strings.HasPrefix(tc.body, "["))
		if answered != (tc.status != 0) || (answered && (w.Code != tc.status || strings.TrimSpace(w.Body.String()) != tc.want)) {
			t.Errorf("%s: answered %v, HTTP %d %s; want %d %s", tc.body, answered, w.Code, w.Body, tc.status, tc.want)
		}
	}
	if _, code, _ := checkJSONRPC([]byte(`{"jsonrpc":"2.0","id":1,"method":42}`)); code != -32600 {
		t.Errorf("a method that is not a string: %d, want -32600", code)
	}
}

// The SDK does not export the methods it handles; receivedMethods is our copy. Each
// must be one the SDK's server takes: it answers an unknown method with a plain-text
// 400 naming it, and must answer ours otherwise.
func TestReceivedMethodsAreTheSDKs(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	send := func(method string, notification bool) string {
		m := map[string]any{"jsonrpc": "2.0", "method": method, "params": map[string]any{}}
		if !notification {
			m["id"] = 1
		}
		body, _ := json.Marshal(m)
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Result().Body)
		return string(b)
	}
	unsupported := send("no/such", false)
	if !strings.Contains(unsupported, `"no/such"`) {
		t.Fatalf("the SDK's answer to an unknown method does not name it: %q", unsupported)
	}
	for _, m := range receivedMethods {
		got := send(m, strings.HasPrefix(m, "notifications/"))
		if got == strings.ReplaceAll(unsupported, "no/such", m) {
			t.Errorf("the SDK does not handle %q: %s", m, got)
		}
	}
}
