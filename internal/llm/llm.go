// Package llm is clankerd's bring-your-own model: a local Ollama (found through
// OLLAMA_HOST, as Ollama's own tools find it) that routes questions the rules could
// not route, through tool calling over the check catalog, and explains failing
// findings. Every call is counted against a budget, and everything sent is cleaned
// first, as every output is (view.Redact). The model never changes anything: its routes are validated against the
// catalog and a change it picks is at most a pending plan.
package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/envconfig"

	"github.com/clankerd/clankerd/internal/view"
)

// DefaultModel is a small local model that supports tool calling.
const DefaultModel = "qwen2.5:3b"

// ErrBudget is returned instead of calling the model when the budget is spent.
var ErrBudget = errors.New("model call budget spent")

// Client talks to Ollama.
type Client struct {
	api  *api.Client
	host string
	// Model is used for routing and explanations; Deep, when set, for `ask --deep`
	// and for findings at or above the escalation severity. A Deep model named
	// "openai:NAME" is served by OpenAI.
	Model, Deep string
	OpenAI      *OpenAI
	Budget      *Budget
	// Timeout bounds one call (default 60s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// New returns a client for the Ollama at host ("" = OLLAMA_HOST, else
// http://127.0.0.1:11434).
func New(host, model string, budget *Budget) (*Client, error) {
	var u *url.URL
	if host == "" {
		u = envconfig.Host()
	} else {
		var err error
		if u, err = url.Parse(host); err != nil || u.Host == "" {
			return nil, fmt.Errorf("model host %q is not a URL such as http://127.0.0.1:11434", host)
		}
	}
	if model == "" {
		model = DefaultModel
	}
	if budget == nil {
		budget = &Budget{}
	}
	return &Client{api: api.NewClient(u, &http.Client{}), host: u.String(), Model: model, Budget: budget, Logger: slog.New(slog.DiscardHandler)}, nil
}

// chat sends one non-streaming chat request, after taking one call from the budget,
// and explains the errors people hit: no Ollama, a model not pulled. It is the one way
// to a model, Ollama or OpenAI: every message is cleaned here, as a view is, before it
// leaves the process.
func (c *Client) chat(ctx context.Context, model string, msgs []api.Message, tools api.Tools) (api.Message, error) {
	if err := c.Budget.Take(); err != nil {
		return api.Message{}, err
	}
	msgs = cleaned(msgs)
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if name, ok := strings.CutPrefix(model, DeepPrefix); ok {
		if c.OpenAI == nil {
			return api.Message{}, fmt.Errorf("model %s: no OpenAI-compatible endpoint configured (--deep-url)", model)
		}
		return c.OpenAI.chat(ctx, name, msgs, tools)
	}
	stream := false
	var out api.Message
	var content strings.Builder
	err := c.api.Chat(ctx, &api.ChatRequest{Model: model, Messages: msgs, Tools: tools, Stream: &stream, Options: map[string]any{"temperature": 0}},
		func(r api.ChatResponse) error {
			content.WriteString(r.Message.Content)
			out.ToolCalls = append(out.ToolCalls, r.Message.ToolCalls...)
			out.Role = r.Message.Role
			return nil
		})
	out.Content = content.String()
	if err != nil {
		return out, c.explain(model, err)
	}
	return out, nil
}

// cleaned is a copy of msgs whose every text has its secrets masked and its control
// characters escaped (view.Redact): what a finding, a question or a server's error
// carries reaches the model no more than it reaches a terminal.
func cleaned(msgs []api.Message) []api.Message {
	out := make([]api.Message, len(msgs))
	for i, m := range msgs {
		m.Content, m.Thinking = view.Redact(m.Content), view.Redact(m.Thinking)
		out[i] = m
	}
	return out
}

func (c *Client) explain(model string, err error) error {
	var status api.StatusError
	var netErr net.Error
	switch {
	case errors.As(err, &status) && status.StatusCode == http.StatusNotFound:
		return fmt.Errorf("model %s is not available in Ollama at %s: run `ollama pull %s` (or pick another with --model): %w", model, c.host, model, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("model %s at %s did not answer in time; try a smaller model or raise the timeout: %w", model, c.host, err)
	case errors.As(err, &netErr):
		return fmt.Errorf("cannot reach Ollama at %s (set OLLAMA_HOST, or start it with `ollama serve`); checks still run without a model: %w", c.host, err)
	}
	return fmt.Errorf("model %s at %s: %w", model, c.host, err)
}

// Budget bounds model calls per run and per hour. Zero limits mean unlimited. Over
// budget, callers keep their results without the model and record the skip.
type Budget struct {
	PerRun, PerHour int
	Now             func() time.Time

	mu      sync.Mutex
	run     int
	hour    time.Time
	inHour  int
	total   int
	skipped int
}

// Take counts one call, or returns ErrBudget.
func (b *Budget) Take() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.Now != nil {
		now = b.Now()
	}
	if h := now.Truncate(time.Hour); !h.Equal(b.hour) {
		b.hour, b.inHour = h, 0
	}
	switch {
	case b.PerRun > 0 && b.run >= b.PerRun:
		b.skipped++
		return fmt.Errorf("%w: %d calls this run (limit %d)", ErrBudget, b.run, b.PerRun)
	case b.PerHour > 0 && b.inHour >= b.PerHour:
		b.skipped++
		return fmt.Errorf("%w: %d calls this hour (limit %d)", ErrBudget, b.inHour, b.PerHour)
	}
	b.run++
	b.inHour++
	b.total++
	return nil
}

// NewRun starts a new run: the per-run count starts again.
func (b *Budget) NewRun() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.run = 0
	b.mu.Unlock()
}

// BudgetStatus is what status shows.
type BudgetStatus struct {
	Calls     int `json:"calls"`
	ThisHour  int `json:"this_hour"`
	PerHour   int `json:"per_hour_limit"`
	PerRun    int `json:"per_run_limit"`
	Skipped   int `json:"skipped_over_budget"`
	Remaining int `json:"remaining_this_hour"`
}

// Status reports the counts.
func (b *Budget) Status() BudgetStatus {
	if b == nil {
		return BudgetStatus{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := BudgetStatus{Calls: b.total, ThisHour: b.inHour, PerHour: b.PerHour, PerRun: b.PerRun, Skipped: b.skipped, Remaining: -1}
	if b.PerHour > 0 {
		s.Remaining = max(0, b.PerHour-b.inHour)
	}
	return s
}
