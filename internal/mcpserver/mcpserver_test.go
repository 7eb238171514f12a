package mcpserver

import "testing"

func TestCheckJSONRPC(t *testing.T) {
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, 0},
		{`{"jsonrpc":"2.0","method":"notifications/initialized"}`, 0},
		{`{"jsonrpc":"2.0","id":1,"result":{}}`, 0},
		{`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, 0},
		{`{"jsonrpc":"2.0","id":1,"method":`, -32700},
		{``, -32700},
		{`[]`, -32600},
		{`[1,2]`, -32600},
		{`{"jsonrpc":"1.0","id":1,"method":"ping"}`, -32600},
		{`{"jsonrpc":"2.0","id":1}`, -32600},
		{`42`, -32600},
	} {
		if _, code, msg := checkJSONRPC([]byte(tc.body)); code != tc.code {
			t.Errorf("checkJSONRPC(%s) = %d %q, want %d", tc.body, code, msg, tc.code)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	for origin, want := range map[string]bool{
		"http://127.0.0.1:3000": true, "http://localhost": true, "http://[::1]:8080": true,
		"http://evil.example": false, "https://127.0.0.1.evil.example": false, "null": false, "http://10.0.0.1": false,
		"https://agent.example.com": true, // listed below
	} {
		if got := originAllowed(origin, []string{"https://agent.example.com"}); got != want {
			t.Errorf("originAllowed(%q) = %v", origin, got)
		}
	}
}

func FuzzCheckJSONRPC(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	f.Add([]byte(`[{"jsonrpc":"2.0"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkJSONRPC(b) // must not panic
	})
}
