package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
)

// fakeOllama speaks Ollama's HTTP API as the official client uses it: POST /api/chat
// (one JSON object when stream is false, NDJSON chunks otherwise; tool calls in
// message.tool_calls), GET /api/tags, POST /api/show, and the not-found error for a
// model that is not pulled.
type fakeOllama struct {
	*httptest.Server
	models []string
	// reply answers the n-th chat request (from 0).
	reply func(n int, req api.ChatRequest) (api.Message, error)
	delay time.Duration

	mu     sync.Mutex
	bodies [][]byte
}

func newFake(t *testing.T, reply func(n int, req api.ChatRequest) (api.Message, error)) *fakeOllama {
	t.Helper()
	f := &fakeOllama{models: []string{DefaultModel, "big:70b"}, reply: reply}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/tags", func(w http.ResponseWriter, r *http.Request) {
		var ms []map[string]any
		for _, m := range f.models {
			ms = append(ms, map[string]any{"name": m, "model": m, "size": 1929912432})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"models": ms})
	})
	mux.HandleFunc("POST /api/show", func(w http.ResponseWriter, r *http.Request) {
		var req api.ShowRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		if !f.has(req.Model) {
			notFound(w, req.Model)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"capabilities": []string{"completion", "tools"}, "details": map[string]any{"family": "qwen2"}})
	})
	mux.HandleFunc("POST /api/chat", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		n := len(f.bodies)
		f.bodies = append(f.bodies, body)
		f.mu.Unlock()
		var req api.ChatRequest
		if err := json.Unmarshal(body, &req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":%q}`, err.Error())
			return
		}
		if !f.has(req.Model) {
			notFound(w, req.Model)
			return
		}
		if f.delay > 0 {
			select {
			case <-time.After(f.delay):
			case <-r.Context().Done():
				return
			}
		}
		msg, err := f.reply(n, req)
		if err != nil { // a broken server: not JSON at all
			w.Header().Set("Content-Type", "application/x-ndjson")
			fmt.Fprint(w, "{this is not json\n")
			return
		}
		msg.Role = "assistant"
		w.Header().Set("Content-Type", "application/x-ndjson")
		if req.Stream != nil && !*req.Stream {
			_ = json.NewEncoder(w).Encode(api.ChatResponse{Model: req.Model, CreatedAt: time.Now(), Message: msg, Done: true, DoneReason: "stop"})
			return
		}
		// Streaming: the content in two chunks, then done.
		half := len(msg.Content) / 2
		_ = json.NewEncoder(w).Encode(api.ChatResponse{Model: req.Model, Message: api.Message{Role: "assistant", Content: msg.Content[:half]}})
		_ = json.NewEncoder(w).Encode(api.ChatResponse{Model: req.Model, Message: api.Message{Role: "assistant", Content: msg.Content[half:], ToolCalls: msg.ToolCalls}, Done: true})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func notFound(w http.ResponseWriter, model string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, `{"error":"model '%s' not found"}`, model)
}

func (f *fakeOllama) has(m string) bool {
	for _, x := range f.models {
		if x == m {
			return true
		}
	}
	return false
}

func (f *fakeOllama) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

func (f *fakeOllama) sent() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(bytes.Join(f.bodies, []byte("\n")))
}

func toolCall(name string, args map[string]any) api.ToolCall {
	a := api.NewToolCallFunctionArguments()
	for k, v := range args {
		a.Set(k, v)
	}
	return api.ToolCall{Function: api.ToolCallFunction{Name: name, Arguments: a}}
}

// catalog is a small registry: one check with parameters and one task.
func catalog(t *testing.T) *checks.Registry {
	t.Helper()
	r := checks.NewRegistry()
	if err := r.AddCheck(stubCheck{checks.Spec{ID: "k8s.pods.unhealthy", Description: "unhealthy pods", Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.String, Doc: "namespace"},
		{Name: "for", Type: checks.Duration, Default: "5m"},
	}}}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddCheck(stubCheck{checks.Spec{ID: "aws.s3.public", Description: "public buckets"}}); err != nil {
		t.Fatal(err)
	}
	return r
}

type stubCheck struct{ spec checks.Spec }

func (s stubCheck) Spec() checks.Spec { return s.spec }
func (stubCheck) Run(context.Context, checks.Params) (checks.Result, error) {
	return checks.Result{}, nil
}

func client(t *testing.T, url string, budget *Budget) *Client {
	t.Helper()
	c, err := New(url, "", budget)
	if err != nil {
		t.Fatal(err)
	}
	c.Deep = "big:70b"
	return c
}

func TestRouteByToolCalls(t *testing.T) {
	f := newFake(t, func(n int, req api.ChatRequest) (api.Message, error) {
		if len(req.Tools) != 2 || req.Tools[0].Function.Name != "aws__s3__public" || req.Tools[1].Function.Parameters.Properties.Len() != 2 {
			return api.Message{Content: "bad tools"}, nil
		}
		return api.Message{ToolCalls: []api.ToolCall{toolCall("k8s__pods__unhealthy", map[string]any{"namespace": "shop", "for": "10m"}), toolCall("aws.s3.public", nil)}}, nil
	})
	r := &Router{Client: client(t, f.URL, nil), Catalog: catalog(t)}
	routes, err := r.RouteQuestion(t.Context(), "is the shop down?", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 2 || routes[0].Check != "k8s.pods.unhealthy" || routes[0].Params["namespace"] != "shop" || routes[1].Check != "aws.s3.public" {
		t.Errorf("routes = %+v", routes)
	}
	if !strings.Contains(f.sent(), `"model":"`+DefaultModel+`"`) {
		t.Errorf("request did not name the default model: %s", f.sent())
	}
	// --deep goes to the escalation model.
	if _, err := r.RouteQuestion(t.Context(), "is the shop down?", true); err != nil || !strings.Contains(f.sent(), `"model":"big:70b"`) {
		t.Errorf("deep routing: %v", err)
	}
}

func TestInvalidModelOutput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replies []api.Message
		wantErr string // "" = the second reply is valid
		calls   int
	}{
		{"unknown tool then valid", []api.Message{{ToolCalls: []api.ToolCall{toolCall("delete_everything", nil)}}, {ToolCalls: []api.ToolCall{toolCall("aws__s3__public", nil)}}}, "", 2},
		{"unknown parameter twice", []api.Message{{ToolCalls: []api.ToolCall{toolCall("aws__s3__public", map[string]any{"bucket": "x"})}}, {ToolCalls: []api.ToolCall{toolCall("aws__s3__public", map[string]any{"bucket": "x"})}}}, "invalid twice", 2},
		{"bad value", []api.Message{{ToolCalls: []api.ToolCall{toolCall("k8s__pods__unhealthy", map[string]any{"for": "soon"})}}, {ToolCalls: []api.ToolCall{toolCall("k8s__pods__unhealthy", map[string]any{"for": 90.0})}}}, "invalid twice", 2},
		{"text instead of tools", []api.Message{{Content: "I think the pods are fine."}, {Content: "Really."}}, "called no tool", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(n int, req api.ChatRequest) (api.Message, error) { return tc.replies[n], nil })
			r := &Router{Client: client(t, f.URL, nil), Catalog: catalog(t)}
			routes, err := r.RouteQuestion(t.Context(), "q", false)
			switch {
			case tc.wantErr == "" && (err != nil || len(routes) != 1):
				t.Errorf("routes %+v, err %v", routes, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if f.calls() != tc.calls {
				t.Errorf("%d calls, want %d", f.calls(), tc.calls)
			}
			if f.calls() == 2 && !strings.Contains(f.sent(), "error: ") {
				t.Error("the retry did not tell the model what was wrong")
			}
		})
	}
}

func TestServerFailures(t *testing.T) {
	t.Run("broken JSON", func(t *testing.T) {
		f := newFake(t, func(int, api.ChatRequest) (api.Message, error) { return api.Message{}, fmt.Errorf("garbage") })
		_, err := (&Router{Client: client(t, f.URL, nil), Catalog: catalog(t)}).RouteQuestion(t.Context(), "q", false)
		if err == nil {
			t.Error("garbage answer accepted")
		}
	})
	t.Run("timeout", func(t *testing.T) {
		f := newFake(t, func(int, api.ChatRequest) (api.Message, error) { return api.Message{Content: "late"}, nil })
		f.delay = 2 * time.Second
		c := client(t, f.URL, nil)
		c.Timeout = 100 * time.Millisecond
		_, err := (&Router{Client: c, Catalog: catalog(t)}).RouteQuestion(t.Context(), "q", false)
		if err == nil || !strings.Contains(err.Error(), "did not answer in time") {
			t.Errorf("timeout: %v", err)
		}
	})
	t.Run("missing model", func(t *testing.T) {
		f := newFake(t, nil)
		c, _ := New(f.URL, "llama9:404b", nil)
		_, err := (&Router{Client: c, Catalog: catalog(t)}).RouteQuestion(t.Context(), "q", false)
		if err == nil || !strings.Contains(err.Error(), "run `ollama pull llama9:404b`") {
			t.Errorf("missing model: %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		_, err := (&Router{Client: client(t, "http://"+addr, nil), Catalog: catalog(t)}).RouteQuestion(t.Context(), "q", false)
		if err == nil || !strings.Contains(err.Error(), "cannot reach Ollama") {
			t.Errorf("unreachable: %v", err)
		}
	})
}

// finding is a failing finding with secrets in its evidence.
func finding(i int, state store.FindingState) store.RunFinding {
	return store.RunFinding{FindingRecord: store.FindingRecord{
		Fingerprint: fmt.Sprintf("fp%02d", i), State: state, Check: "k8s.pods.unhealthy",
		Finding: checks.Finding{Resource: fmt.Sprintf("pod/shop/api-%d", i), Problem: "crashloop", Severity: checks.High,
			Summary: "container api is in CrashLoopBackOff",
			Evidence: map[string]string{
				"last_log": "connecting with DB_PASSWORD=hunter2hunter2 as AKIAIOSFODNN7EXAMPLE",
				"env":      "Authorization: Bearer sk-live-0123456789abcdef",
				"api_key":  "plainly-secret-value",
			}},
	}}
}

func TestExplainRedactsCachesAndBudgets(t *testing.T) {
	f := newFake(t, func(n int, req api.ChatRequest) (api.Message, error) {
		return api.Message{Content: fmt.Sprintf("The container keeps crashing (%d). Fix: read its logs with kubectl logs --previous.", n)}, nil
	})
	budget := &Budget{PerHour: 15}
	ex := &Explainer{Client: client(t, f.URL, budget), Cache: &Cache{Path: filepath.Join(t.TempDir(), "explanations.json")}}

	// 50 passing-run findings: unchanged or informational → no call.
	var quiet []store.RunFinding
	for i := range 50 {
		fr := finding(i, store.FindingUnchanged)
		quiet = append(quiet, fr)
	}
	info := finding(99, store.FindingNew)
	info.Severity = checks.Info
	quiet = append(quiet, info)
	if exps, errs := ex.Explain(t.Context(), "k8s.pods.unhealthy", quiet); len(exps)+len(errs) != 0 || f.calls() != 0 {
		t.Fatalf("unchanged and info findings: %d calls", f.calls())
	}

	// 10 new failing findings: 10 calls, all redacted.
	var fresh []store.RunFinding
	for i := range 10 {
		fresh = append(fresh, finding(i, store.FindingNew))
	}
	exps, errs := ex.Explain(t.Context(), "k8s.pods.unhealthy", fresh)
	if len(exps) != 10 || len(errs) != 0 || f.calls() != 10 {
		t.Fatalf("new findings: %d explanations, %v, %d calls", len(exps), errs, f.calls())
	}
	sent := f.sent()
	for _, secret := range []string{"hunter2hunter2", "AKIAIOSFODNN7EXAMPLE", "sk-live-0123456789abcdef", "plainly-secret-value"} {
		if strings.Contains(sent, secret) {
			t.Errorf("the model received the secret %q", secret)
		}
	}
	if !strings.Contains(sent, "CrashLoopBackOff") || !strings.Contains(sent, "[REDACTED]") {
		t.Errorf("the prompt lost the finding: %s", sent)
	}

	// The same findings again (a second run, or a changed state with the same
	// evidence): no call, from the cache, across a new cache object reading the file.
	ex.Cache = &Cache{Path: ex.Cache.Path}
	for i := range fresh {
		fresh[i].State = store.FindingChanged
	}
	exps, errs = ex.Explain(t.Context(), "k8s.pods.unhealthy", fresh)
	if len(exps) != 10 || !exps[0].Cached || len(errs) != 0 || f.calls() != 10 {
		t.Fatalf("cached: %d explanations (cached %v), %v, %d calls", len(exps), exps[0].Cached, errs, f.calls())
	}

	// Changed evidence: asked again. The budget (15 an hour) stops the sixth.
	for i := range fresh {
		fresh[i].Evidence = map[string]string{"restarts": "12"}
	}
	exps, errs = ex.Explain(t.Context(), "k8s.pods.unhealthy", fresh)
	if len(exps) != 5 || len(errs) != 5 || f.calls() != 15 || !strings.Contains(errs[0].Error(), "budget") {
		t.Errorf("over budget: %d explanations, %d errors (%v), %d calls", len(exps), len(errs), errs, f.calls())
	}
	if st := budget.Status(); st.Calls != 15 || st.Skipped != 5 || st.Remaining != 0 {
		t.Errorf("budget status = %+v", st)
	}
}

func TestBudgetWindows(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 59, 0, 0, time.UTC)
	b := &Budget{PerRun: 2, PerHour: 3, Now: func() time.Time { return now }}
	if b.Take() != nil || b.Take() != nil || b.Take() == nil {
		t.Fatal("per-run limit")
	}
	b.NewRun()
	if b.Take() != nil || b.Take() == nil {
		t.Fatal("per-hour limit")
	}
	now = now.Add(2 * time.Minute) // the next hour
	if err := b.Take(); err != nil {
		t.Errorf("new hour: %v", err)
	}
}

// BenchmarkModelRouteFloor is the floor of any model routing: one tool-calling round
// trip to an Ollama stand-in on loopback that answers at once (a real model adds its
// inference time). Compare with route.BenchmarkRoute, the rules.
func BenchmarkModelRouteFloor(b *testing.B) {
	f := newFakeB(b)
	c, _ := New(f.URL, "", nil)
	r := &Router{Client: c, Catalog: catalogB(b)}
	for b.Loop() {
		if _, err := r.RouteQuestion(b.Context(), "is the shop down?", false); err != nil {
			b.Fatal(err)
		}
	}
}

func newFakeB(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprint(w, `{"model":"qwen2.5:3b","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"aws__s3__public","arguments":{}}}]},"done":true}`+"\n")
	}))
	b.Cleanup(srv.Close)
	return srv
}

func catalogB(b *testing.B) *checks.Registry {
	r := checks.NewRegistry()
	for _, id := range []string{"aws.s3.public", "k8s.pods.unhealthy"} {
		if err := r.AddCheck(stubCheck{checks.Spec{ID: id, Description: id}}); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// TestOpenAIDeepModel: a deep model named openai:NAME goes to an OpenAI-compatible
// chat completions endpoint (served here in its documented wire format), with the key
// from the environment; tool calls come back as routes.
func TestOpenAIDeepModel(t *testing.T) {
	var auth, path string
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, path = r.Header.Get("Authorization"), r.URL.Path
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"k8s__pods__unhealthy","arguments":"{\"namespace\":\"shop\"}"}}]}}]}`)
	}))
	defer srv.Close()
	t.Setenv("TEST_DEEP_KEY", "sk-test-123")
	c := client(t, "http://127.0.0.1:1", nil) // Ollama is not involved
	c.Deep, c.OpenAI = "openai:gpt-test", &OpenAI{URL: srv.URL + "/v1", KeyEnv: "TEST_DEEP_KEY"}
	routes, err := (&Router{Client: c, Catalog: catalog(t)}).RouteQuestion(t.Context(), "anything wrong in the shop?", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 1 || routes[0].Check != "k8s.pods.unhealthy" || routes[0].Params["namespace"] != "shop" {
		t.Errorf("routes = %+v", routes)
	}
	if auth != "Bearer sk-test-123" || path != "/v1/chat/completions" || !strings.Contains(string(body), `"model":"gpt-test"`) || !strings.Contains(string(body), `"type":"function"`) {
		t.Errorf("request: %s %s %s", auth, path, body)
	}
	t.Setenv("TEST_DEEP_KEY", "")
	if _, err := (&Router{Client: c, Catalog: catalog(t)}).RouteQuestion(t.Context(), "q", true); err == nil || !strings.Contains(err.Error(), "$TEST_DEEP_KEY") {
		t.Errorf("without a key: %v", err)
	}
}
