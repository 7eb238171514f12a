// Package github is clankerd's GitHub provider: read-only checks of repositories'
// Actions workflows (failed and silently disabled or late scheduled workflows),
// security alerts (Dependabot, code scanning, secret scanning), default-branch
// protection and visibility, and write tasks (re-run failed jobs, re-enable a
// workflow) that only ever run as approved plans. It finds its token the way the gh
// CLI does and answers an unchanged round with conditional requests (304s), which do
// not count against GitHub's rate limit.
package github

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v84/github"

	"github.com/clankerd/clankerd/checks"
)

// Options configure the provider.
type Options struct {
	// HTTPClient's transport sends the requests (under the provider's caching and
	// rate-limit transport); nil means http.DefaultTransport.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock for ages and schedules (default time.Now).
	Now func() time.Time
	// Getenv reads the environment (default os.Getenv): GH_TOKEN, GITHUB_TOKEN,
	// GH_HOST, GH_CONFIG_DIR.
	Getenv func(string) string
	// Concurrency bounds how many repositories are read at once; 0 means 8.
	Concurrency int
	// CacheEntries bounds the responses kept for conditional requests; 0 means 20000.
	CacheEntries int
	// NegativeTTL is how long a 403 or 404 answer (a feature that is off, a branch
	// without protection) is reused without asking again; 0 means 15 minutes.
	NegativeTTL time.Duration
	// Reserve is how many requests of the rate limit the provider leaves unused: with
	// fewer left it waits for the reset (up to MaxWait) or fails; 0 means 50.
	Reserve int
	// MaxWait bounds a wait for a rate limit (Retry-After of a secondary limit, or the
	// reset of the primary one); 0 means 60s. A longer wait fails the call instead.
	MaxWait time.Duration
	// Sleep waits for d or until ctx ends (default a timer); tests make it instant.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Provider holds GitHub clients, the checks and the tasks.
type Provider struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	clients map[clientKey]*client
}

// New returns a provider.
func New(opts Options) *Provider {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = 20000
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = 15 * time.Minute
	}
	if opts.Reserve <= 0 {
		opts.Reserve = 50
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = time.Minute
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{opts: opts, log: log, clients: map[clientKey]*client{}}
}

// Register adds the GitHub checks and tasks to r.
func (p *Provider) Register(r *checks.Registry) error {
	return r.AddAll(p.checkList(), p.taskList())
}

// Close logs the requests made; the provider holds no long-lived resources.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		st := c.tr.Stats()
		if st.Requests > 0 {
			p.log.Debug("GitHub API requests", "api", c.api, "requests", st.Requests, "not_modified", st.NotModified)
		}
	}
	return nil
}

// Stats sums the transport counters of every client: requests sent, 304s, and the
// rate limit left as GitHub last reported it.
func (p *Provider) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out Stats
	for _, c := range p.clients {
		st := c.tr.Stats()
		out.Requests += st.Requests
		out.NotModified += st.NotModified
		out.Retries += st.Retries
		out.Negative += st.Negative
		out.RateRemaining, out.RateLimit, out.RateUsed, out.RateReset = st.RateRemaining, st.RateLimit, st.RateUsed, st.RateReset
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// clientKey identifies a client: the API base URL and the token (hashed).
type clientKey struct{ api, token string }

// client is one authenticated GitHub API client.
type client struct {
	key    clientKey
	gh     *gh.Client
	tr     *transport
	api    string // base URL, for messages and evidence
	host   string // the GitHub host, for messages
	source string // where the token came from, for messages (never the token)
}

// connect returns the client for the item's host and API URL, with the token the gh
// CLI would use. Without a token it returns a checks.Skip error.
func (p *Provider) connect(params checks.Params) (*client, error) {
	host, api, err := p.endpoint(params.Get("host"), params.Get("api_url"))
	if err != nil {
		return nil, err
	}
	tok, source, err := findToken(p.opts.Getenv, host)
	if err != nil {
		return nil, err
	}
	if tok == "" {
		return nil, checks.Skip(fmt.Sprintf("no GitHub token for %s: set GH_TOKEN or GITHUB_TOKEN, or run `gh auth login --hostname %s`", host, host))
	}
	sum := sha256.Sum256([]byte(tok))
	key := clientKey{api: api, token: hex.EncodeToString(sum[:8])}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[key]; ok {
		return c, nil
	}
	base := http.DefaultTransport
	if p.opts.HTTPClient != nil && p.opts.HTTPClient.Transport != nil {
		base = p.opts.HTTPClient.Transport
	}
	tr := newTransport(base, transportOptions{
		entries: p.opts.CacheEntries, negativeTTL: p.opts.NegativeTTL, reserve: p.opts.Reserve, maxWait: p.opts.MaxWait,
		now: p.opts.Now, sleep: p.opts.Sleep, log: p.log,
	})
	hc := &http.Client{Transport: tr}
	if p.opts.HTTPClient != nil {
		hc.Timeout = p.opts.HTTPClient.Timeout
	}
	g := gh.NewClient(hc).WithAuthToken(tok)
	g.UserAgent = "clankerd"
	if api != "https://api.github.com/" {
		u, err := url.Parse(api)
		if err != nil {
			return nil, fmt.Errorf("api_url %q: %w", api, err)
		}
		g.BaseURL = u
	}
	c := &client{key: key, gh: g, tr: tr, api: api, host: host, source: source}
	p.clients[key] = c
	return c, nil
}

// endpoint resolves the GitHub host and the API base URL: api_url= wins, then host=,
// then GH_HOST, then github.com. GitHub Enterprise Server's API is at
// https://HOST/api/v3/.
func (p *Provider) endpoint(host, api string) (string, string, error) {
	if api != "" {
		if err := validateAPIURL(api); err != nil {
			return "", "", err
		}
		if !strings.HasSuffix(api, "/") {
			api += "/"
		}
		if host == "" {
			u, _ := url.Parse(api)
			host = u.Hostname()
			if host == "api.github.com" {
				host = "github.com"
			}
		}
		return host, api, nil
	}
	if host == "" {
		host = p.opts.Getenv("GH_HOST")
	}
	if host == "" || host == "github.com" || host == "api.github.com" {
		return "github.com", "https://api.github.com/", nil
	}
	if err := validateHost(host); err != nil {
		return "", "", err
	}
	return host, "https://" + host + "/api/v3/", nil
}

func (p *Provider) now() time.Time { return p.opts.Now() }

// memoKey names one read for the round: the client and what is read.
func (c *client) memoKey(what string) string {
	return "github/" + c.key.api + "/" + c.key.token + "/" + what
}
