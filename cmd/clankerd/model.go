package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/llm"
	"github.com/clankerd/clankerd/internal/runner"
)

// modelFlags configure the optional model: which one, where, how many calls.
type modelFlags struct {
	model, deep, host string
	deepURL, deepKey  string
	deepFrom          string
	perHour, perRun   int
	explain           bool

	client *llm.Client
}

func (m *modelFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&m.model, "model", os.Getenv("CLANKERD_MODEL"), "Ollama model for routing and explanations (env CLANKERD_MODEL; none: no model is called, except the default "+llm.DefaultModel+" for --explain)")
	f.StringVar(&m.deep, "deep-model", os.Getenv("CLANKERD_DEEP_MODEL"), "larger model for ask --deep and for findings at or above --deep-from: an Ollama model, or openai:NAME on an OpenAI-compatible endpoint (env CLANKERD_DEEP_MODEL)")
	f.StringVar(&m.deepURL, "deep-url", envOr("CLANKERD_DEEP_URL", "https://api.openai.com/v1"), "OpenAI-compatible API base for a deep model named openai:NAME (env CLANKERD_DEEP_URL)")
	f.StringVar(&m.deepKey, "deep-key-env", "OPENAI_API_KEY", "environment variable holding the API key of an openai: deep model")
	f.StringVar(&m.deepFrom, "deep-from", "critical", "severity from which findings are explained by the deep model")
	f.StringVar(&m.host, "model-host", "", "Ollama address (default: OLLAMA_HOST, then http://127.0.0.1:11434)")
	f.IntVar(&m.perHour, "model-calls-per-hour", 60, "model calls allowed per hour (0: no limit)")
	f.IntVar(&m.perRun, "model-calls-per-run", 20, "model calls allowed per run (0: no limit)")
	f.BoolVar(&m.explain, "explain", false, "have the model explain each new or changed failing finding (redacted; cached; within the budget)")
}

// configured reports whether a model was named, so routing may fall back to it.
func (m *modelFlags) configured() bool { return m.model != "" }

func (m *modelFlags) newClient(log *slog.Logger) (*llm.Client, error) {
	if m.client != nil {
		return m.client, nil
	}
	c, err := llm.New(m.host, m.model, &llm.Budget{PerHour: m.perHour, PerRun: m.perRun})
	if err != nil {
		return nil, err
	}
	c.Deep, c.Logger = m.deep, log
	if strings.HasPrefix(m.deep, llm.DeepPrefix) {
		c.OpenAI = &llm.OpenAI{URL: m.deepURL, KeyEnv: m.deepKey}
	}
	m.client = c
	return c, nil
}

// router returns the model router when a model is configured, else nil.
func (m *modelFlags) router(reg *checks.Registry, log *slog.Logger) (*llm.Router, error) {
	if !m.configured() {
		return nil, nil
	}
	c, err := m.newClient(log)
	if err != nil {
		return nil, err
	}
	return &llm.Router{Client: c, Catalog: reg}, nil
}

// afterRun returns the runner hook that explains failing findings, or nil without
// --explain. The per-run budget covers the whole command, or, in the daemon
// (perItemRun), each item's run.
func (m *modelFlags) afterRun(stateDir string, log *slog.Logger, perItemRun bool) (func(context.Context, *runner.Outcome), error) {
	if !m.explain {
		return nil, nil
	}
	c, err := m.newClient(log)
	if err != nil {
		return nil, err
	}
	from, err := checks.ParseSeverity(m.deepFrom)
	if err != nil {
		return nil, fmt.Errorf("--deep-from: %w", err)
	}
	ex := &llm.Explainer{Client: c, Cache: explanationCache(stateDir), DeepFrom: from}
	return func(ctx context.Context, o *runner.Outcome) {
		if o.Receipt.Status != checks.Fail {
			return // zero model calls when everything passes
		}
		if perItemRun {
			c.Budget.NewRun()
		}
		exps, errs := ex.Explain(ctx, o.Item.ID, o.Findings)
		for _, e := range exps {
			if o.Explanations == nil {
				o.Explanations = map[string]string{}
			}
			o.Explanations[e.Fingerprint] = e.Text
		}
		for _, err := range errs {
			log.Warn("no explanation", "item", o.Item.Pos(), "err", err)
			o.ExplainErrors = append(o.ExplainErrors, err.Error())
		}
	}, nil
}

// status reports the model's budget, or nil when no model is in use.
func (m *modelFlags) status() *control.ModelInfo {
	if m.client == nil {
		return nil
	}
	st := m.client.Budget.Status()
	return &control.ModelInfo{Model: m.client.Model, Calls: st.Calls, ThisHour: st.ThisHour, PerHour: st.PerHour,
		PerRun: st.PerRun, Skipped: st.Skipped, Remaining: st.Remaining}
}

// explanationCache is where explanations are kept, in the state directory.
func explanationCache(stateDir string) *llm.Cache {
	return &llm.Cache{Path: filepath.Join(stateDir, "explanations.json")}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func paramText(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + checks.QuoteValue(p[k])
	}
	return strings.Join(parts, " ")
}
