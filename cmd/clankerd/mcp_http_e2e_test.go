package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startMCPHTTP starts `clankerd mcp --transport http` on a free loopback port and
// returns its URL and bearer token.
func startMCPHTTP(t *testing.T, state string) (url, token string) {
	t.Helper()
	addr := closedPort(t)
	ctx, cancel := context.WithCancel(t.Context())
	var stderr syncBuffer
	cmd := exec.CommandContext(ctx, binary, "--state-dir", state, "mcp", "--transport", "http", "--listen", addr)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("mcp stderr:\n%s", stderr.String())
		}
	})
	url = "http://" + addr + "/mcp"
	waitFor(t, 20*time.Second, "the MCP HTTP server", func() bool {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	r := cli(t, state, "mcp", "token")
	if token = strings.TrimSpace(r.stdout); r.code != 0 || len(token) != 64 {
		t.Fatalf("mcp token: %+v", r)
	}
	return url, token
}

// Issue 12, hole 11: an unknown JSON-RPC method got a plain-text 400 from the SDK; it
// gets a JSON-RPC -32601 error with the request's id. And a request with a foreign
// Host header (DNS rebinding), even with the token, is refused before the SDK.
func TestMCPHTTPUnknownMethodAndHost(t *testing.T) {
	url, token := startMCPHTTP(t, t.TempDir())
	var session string
	post := func(body, host string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	status, h, body := post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`, "")
	if session = h.Get("Mcp-Session-Id"); status != http.StatusOK || session == "" {
		t.Fatalf("initialize: HTTP %d %s", status, body)
	}
	if status, _, body := post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, ""); status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: HTTP %d %s", status, body)
	}

	for _, tc := range []struct{ body, id string }{
		{`{"jsonrpc":"2.0","id":7,"method":"no/such"}`, `7`},
		{`{"jsonrpc":"2.0","id":"abc","method":"tools/delete","params":{}}`, `"abc"`},
	} {
		status, h, body := post(tc.body, "")
		var rpc struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Error   struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(body), &rpc) != nil ||
			rpc.JSONRPC != "2.0" || string(rpc.ID) != tc.id || rpc.Error.Code != -32601 || !strings.HasPrefix(rpc.Error.Message, "Method not found") {
			t.Errorf("%s: HTTP %d %s %s, want a JSON-RPC -32601 error with id %s", tc.body, status, h.Get("Content-Type"), body, tc.id)
		}
	}
	// A notification of an unknown method is not answered; the server goes on.
	if status, _, body := post(`{"jsonrpc":"2.0","method":"notifications/no_such"}`, ""); status != http.StatusAccepted || body != "" {
		t.Errorf("unknown notification: HTTP %d %q", status, body)
	}
	if status, _, body := post(`{"jsonrpc":"2.0","id":8,"method":"tools/list"}`, ""); status != http.StatusOK || !strings.Contains(body, "clanker_version") {
		t.Errorf("tools/list after the unknown methods: HTTP %d %.300s", status, body)
	}

	// DNS rebinding: the page's own name as Host, and the token stolen or not.
	if status, _, body := post(`{"jsonrpc":"2.0","id":9,"method":"tools/list"}`, "attacker.example"); status != http.StatusForbidden || !strings.Contains(body, "DNS rebinding") {
		t.Errorf("Host attacker.example: HTTP %d %.300s, want 403", status, body)
	}
	if status, _, body := post(`{"jsonrpc":"2.0","id":10,"method":"tools/list"}`, "localhost"); status != http.StatusOK {
		t.Errorf("Host localhost: HTTP %d %.300s", status, body)
	}
}
