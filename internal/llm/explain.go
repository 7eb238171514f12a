package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/redact"
	"github.com/clankerd/clankerd/internal/store"
)

// Explainer asks the model to explain failing findings and suggest a fix. It sends
// only new or changed findings above info, redacted, and never the same finding with
// the same evidence twice (the cache); with nothing failing it makes no call.
type Explainer struct {
	Client *Client
	Cache  *Cache
	// DeepFrom sends findings at or above this severity to the Deep model, when one
	// is configured ("" = never).
	DeepFrom checks.Severity
}

const explainSystem = `You are an experienced site reliability engineer. Explain the finding below to an on-call engineer in at most three sentences: what it means and why it matters. Then give one concrete next step, starting with "Fix:". Secrets were replaced by [REDACTED]; do not guess them.`

// Explanation is one finding's explanation.
type Explanation struct {
	Fingerprint string `json:"fingerprint"`
	Text        string `json:"text"`
	Model       string `json:"model"`
	Cached      bool   `json:"cached"`
}

// Explain explains the findings that need it and returns what it has: fresh and
// cached explanations, and one error per finding it could not explain (over budget,
// no model).
func (e *Explainer) Explain(ctx context.Context, check string, fs []store.RunFinding) ([]Explanation, []error) {
	var out []Explanation
	var errs []error
	for _, rf := range fs {
		f := rf.FindingRecord
		if f.Severity.Rank() <= checks.Info.Rank() || (f.State != store.FindingNew && f.State != store.FindingChanged) {
			continue
		}
		key := explainKey(f)
		if ent, ok := e.Cache.Get(f.Fingerprint); ok && ent.Key == key {
			out = append(out, Explanation{Fingerprint: f.Fingerprint, Text: ent.Text, Model: ent.Model, Cached: true})
			continue
		}
		model := e.Client.Model
		if e.DeepFrom != "" && e.Client.Deep != "" && f.Severity.Rank() >= e.DeepFrom.Rank() {
			model = e.Client.Deep
		}
		reply, err := e.Client.chat(ctx, model, []api.Message{
			{Role: "system", Content: explainSystem},
			{Role: "user", Content: prompt(check, f)},
		}, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("explaining %s on %s: %w", f.Problem, f.Resource, err))
			if errors.Is(err, ErrBudget) {
				e.Cache.noteSkip()
			}
			continue
		}
		text := strings.TrimSpace(redact.String(reply.Content))
		if text == "" {
			errs = append(errs, fmt.Errorf("explaining %s on %s: the model answered nothing", f.Problem, f.Resource))
			continue
		}
		if err := e.Cache.Put(f.Fingerprint, Entry{Key: key, Text: text, Model: model, At: time.Now().UTC()}); err != nil {
			errs = append(errs, err)
		}
		out = append(out, Explanation{Fingerprint: f.Fingerprint, Text: text, Model: model})
	}
	return out, errs
}

// prompt is the finding as the model sees it: evidence whose name says secret is
// masked here; chat cleans the whole text before it is sent.
func prompt(check string, f store.FindingRecord) string {
	ev := redact.Map(f.Evidence)
	keys := make([]string, 0, len(ev))
	for k := range ev {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "Check: %s\nResource: %s\nProblem: %s\nSeverity: %s\nSummary: %s\n", check, f.Resource, f.Problem, f.Severity, f.Summary)
	if len(keys) > 0 {
		b.WriteString("Evidence:\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "- %s: %s\n", k, ev[k])
		}
	}
	if f.Fix != "" {
		fmt.Fprintf(&b, "The check's own fix hint: %s\n", f.Fix)
	}
	return b.String()
}

// explainKey changes when what the model would see changes.
func explainKey(f store.FindingRecord) string {
	h := sha256.New()
	keys := make([]string, 0, len(f.Evidence))
	for k := range f.Evidence {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", f.Fingerprint, f.Severity, f.Summary, f.Fix)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, f.Evidence[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// Cache keeps explanations by fingerprint in a JSON file in the state directory
// (mode 0600), so an unchanged finding is never sent twice, across runs and
// processes.
type Cache struct {
	Path string

	mu      sync.Mutex
	loaded  bool
	entries map[string]Entry
	skipped int
}

// Entry is one cached explanation; Key is the hash of what the model saw.
type Entry struct {
	Key   string    `json:"key"`
	Text  string    `json:"text"`
	Model string    `json:"model"`
	At    time.Time `json:"at"`
}

func (c *Cache) load() {
	if c.loaded {
		return
	}
	c.loaded = true
	c.entries = map[string]Entry{}
	if c.Path == "" {
		return
	}
	if b, err := os.ReadFile(c.Path); err == nil {
		_ = json.Unmarshal(b, &c.entries) // a corrupt cache is an empty one
	}
}

// Get returns the cached explanation of a finding.
func (c *Cache) Get(fp string) (Entry, bool) {
	if c == nil {
		return Entry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	e, ok := c.entries[fp]
	return e, ok
}

// Put stores an explanation and writes the file (atomically).
func (c *Cache) Put(fp string, e Entry) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	c.entries[fp] = e
	if c.Path == "" {
		return nil
	}
	b, err := json.Marshal(c.entries)
	if err != nil {
		return err
	}
	tmp := c.Path + ".tmp"
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
		return fmt.Errorf("saving explanations: %w", err)
	}
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("saving explanations: %w", err)
	}
	return os.Rename(tmp, c.Path)
}

func (c *Cache) noteSkip() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.skipped++
	c.mu.Unlock()
}
