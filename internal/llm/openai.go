package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/ollama/ollama/api"
)

// OpenAI is an OpenAI-compatible chat completions endpoint (OpenAI, vLLM, LiteLLM,
// llama.cpp's server, ...), used only as the escalation model. The key is read from an
// environment variable when a call is made, never stored or logged.
type OpenAI struct {
	// URL is the API base, such as https://api.openai.com/v1.
	URL string
	// KeyEnv names the environment variable that holds the API key.
	KeyEnv string
	HTTP   *http.Client
}

// DeepPrefix marks a deep model served by an OpenAI-compatible endpoint:
// "openai:gpt-4o-mini".
const DeepPrefix = "openai:"

type oaMessage struct {
	Role       string       `json:"role"`
	Content    string       `json:"content"`
	ToolCalls  []oaToolCall `json:"tool_calls,omitempty"`
	ToolCallID string       `json:"tool_call_id,omitempty"`
}

type oaToolCall struct {
	ID       string `json:"id,omitempty"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type oaTool struct {
	Type     string           `json:"type"`
	Function api.ToolFunction `json:"function"`
}

// chat sends one chat completion and returns the reply in Ollama's message shape.
func (o *OpenAI) chat(ctx context.Context, model string, msgs []api.Message, tools api.Tools) (api.Message, error) {
	key := os.Getenv(o.KeyEnv)
	if key == "" {
		return api.Message{}, fmt.Errorf("the deep model %s needs an API key in $%s", model, o.KeyEnv)
	}
	req := struct {
		Model       string      `json:"model"`
		Messages    []oaMessage `json:"messages"`
		Tools       []oaTool    `json:"tools,omitempty"`
		Temperature float64     `json:"temperature"`
	}{Model: model}
	for i, m := range msgs {
		om := oaMessage{Role: m.Role, Content: m.Content}
		for j, tc := range m.ToolCalls {
			c := oaToolCall{ID: fmt.Sprintf("call_%d_%d", i, j), Type: "function"}
			c.Function.Name, c.Function.Arguments = tc.Function.Name, tc.Function.Arguments.String()
			om.ToolCalls = append(om.ToolCalls, c)
		}
		if m.Role == "tool" {
			om.ToolCallID = m.ToolCallID
			if om.ToolCallID == "" && i > 0 && len(req.Messages[i-1].ToolCalls) > 0 {
				om.ToolCallID = req.Messages[i-1].ToolCalls[0].ID
			}
		}
		req.Messages = append(req.Messages, om)
	}
	for _, t := range tools {
		req.Tools = append(req.Tools, oaTool{Type: "function", Function: t.Function})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return api.Message{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(o.URL, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return api.Message{}, fmt.Errorf("deep model URL %q: %w", o.URL, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+key)
	client := o.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(hr)
	if err != nil {
		return api.Message{}, fmt.Errorf("cannot reach the deep model at %s: %w", o.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return api.Message{}, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return api.Message{}, fmt.Errorf("the deep model at %s refused the key in $%s (%s): %s", o.URL, o.KeyEnv, resp.Status, e.Error.Message)
		case http.StatusNotFound:
			return api.Message{}, fmt.Errorf("the deep model %s is not served at %s (%s): %s", model, o.URL, resp.Status, e.Error.Message)
		}
		return api.Message{}, fmt.Errorf("deep model at %s: %s: %s", o.URL, resp.Status, e.Error.Message)
	}
	var out struct {
		Choices []struct {
			Message oaMessage `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return api.Message{}, fmt.Errorf("deep model at %s: unreadable answer: %w", o.URL, err)
	}
	if len(out.Choices) == 0 {
		return api.Message{}, errors.New("deep model answered no choice")
	}
	m := out.Choices[0].Message
	reply := api.Message{Role: "assistant", Content: m.Content}
	for _, tc := range m.ToolCalls {
		var args api.ToolCallFunctionArguments
		if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil {
			return api.Message{}, fmt.Errorf("deep model: tool %s has arguments that are not JSON: %w", tc.Function.Name, err)
		}
		reply.ToolCalls = append(reply.ToolCalls, api.ToolCall{ID: tc.ID, Function: api.ToolCallFunction{Name: tc.Function.Name, Arguments: args}})
	}
	return reply, nil
}
