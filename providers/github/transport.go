package github

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// transport sends the provider's requests. It makes every GET conditional: it keeps
// the ETag and body of each URL's last 200 answer (bounded, least recently used
// first out) and sends If-None-Match, and a 304 — which GitHub does not count
// against the rate limit — is answered from the kept body. It reads the rate limit
// from every answer and waits for the reset (bounded) instead of spending the last
// requests, and honours Retry-After on secondary rate limits.
type transport struct {
	next http.RoundTripper
	opts transportOptions

	mu      sync.Mutex
	entries map[string]*list.Element
	order   *list.List // front: most recently used
	stats   Stats
}

type transportOptions struct {
	entries int
	// negativeTTL is how long a 403 or 404 (not a rate limit) is answered from the
	// cache: GitHub does not make those conditional, and a feature that is off or a
	// branch without protection would otherwise cost a request every round.
	negativeTTL time.Duration
	reserve     int
	maxWait     time.Duration
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
	log         *slog.Logger
}

// Stats are a transport's counters.
type Stats struct {
	// Requests counts requests sent to GitHub, 304s and retries included.
	Requests int64
	// NotModified counts 304 answers, served from the cache.
	NotModified int64
	// Retries counts requests sent again after a secondary rate limit.
	Retries int64
	// Negative counts 403 and 404 answers served from the cache without a request.
	Negative int64
	// The core rate limit as GitHub last reported it; RateLimit is 0 before any
	// answer carried it.
	RateLimit, RateRemaining, RateUsed int
	RateReset                          time.Time
}

// cached is one URL's last 200 answer, or a 403 or 404 kept until expires.
type cached struct {
	key     string
	etag    string
	status  int
	header  http.Header
	body    []byte
	expires time.Time // for a 403 or 404: when it is asked again
}

// maxCachedBody bounds the size of one kept body.
const maxCachedBody = 4 << 20

// maxRetries bounds how often a request is sent again after a secondary rate limit.
const maxRetries = 2

func newTransport(next http.RoundTripper, opts transportOptions) *transport {
	return &transport{next: next, opts: opts, entries: map[string]*list.Element{}, order: list.New()}
}

// Stats returns the counters.
func (t *transport) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

// RateLimitedError says a call was not sent because the rate limit is (nearly) spent
// and its reset is further away than the provider waits.
type RateLimitedError struct {
	Remaining int
	Reset     time.Time
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("GitHub's rate limit for this token has %d requests left until %s; clankerd leaves the last ones unused: run the checks less often, narrow repos=, or wait for the reset",
		e.Remaining, e.Reset.UTC().Format(time.RFC3339))
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.waitForBudget(req.Context()); err != nil {
		return nil, err
	}
	get := req.Method == http.MethodGet
	key := ""
	if get {
		key = req.Header.Get("Authorization") + " " + req.Header.Get("Accept") + " " + req.URL.String()
	}
	for attempt := 0; ; attempt++ {
		out := req
		entry := t.lookup(key)
		if entry != nil && entry.status != http.StatusOK {
			t.count(func(s *Stats) { s.Negative++ })
			return entry.response(req, nil), nil
		}
		if entry != nil {
			out = req.Clone(req.Context())
			out.Header.Set("If-None-Match", entry.etag)
		}
		t.count(func(s *Stats) { s.Requests++ })
		resp, err := t.next.RoundTrip(out)
		if err != nil {
			return nil, err
		}
		t.readRate(resp.Header)
		if wait, ok := secondaryLimit(resp, t.opts.now()); ok && get && attempt < maxRetries && wait <= t.opts.maxWait {
			drain(resp)
			t.opts.log.Debug("GitHub secondary rate limit", "url", req.URL.Path, "retry_after", wait)
			if err := t.opts.sleep(req.Context(), wait); err != nil {
				return nil, err
			}
			t.count(func(s *Stats) { s.Retries++ })
			continue
		}
		switch {
		case resp.StatusCode == http.StatusNotModified && entry != nil:
			drain(resp)
			t.count(func(s *Stats) { s.NotModified++ })
			return entry.response(req, resp.Header), nil
		case get && resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "":
			return t.store(key, req, resp, time.Time{})
		case get && t.opts.negativeTTL > 0 && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden) &&
			resp.Header.Get("Retry-After") == "" && resp.Header.Get("X-RateLimit-Remaining") != "0":
			return t.store(key, req, resp, t.opts.now().Add(t.opts.negativeTTL))
		}
		return resp, nil
	}
}

// waitForBudget waits for the rate limit's reset when fewer than the reserve are
// left, or fails when the reset is further away than maxWait.
func (t *transport) waitForBudget(ctx context.Context) error {
	t.mu.Lock()
	st := t.stats
	t.mu.Unlock()
	if st.RateLimit == 0 || st.RateRemaining > t.opts.reserve {
		return nil
	}
	wait := st.RateReset.Sub(t.opts.now())
	if wait <= 0 {
		return nil
	}
	if wait > t.opts.maxWait {
		return &RateLimitedError{Remaining: st.RateRemaining, Reset: st.RateReset}
	}
	t.opts.log.Info("GitHub rate limit nearly spent: waiting for the reset", "remaining", st.RateRemaining, "wait", wait)
	if err := t.opts.sleep(ctx, wait); err != nil {
		return err
	}
	t.mu.Lock()
	if t.stats.RateReset.Equal(st.RateReset) {
		t.stats.RateRemaining = t.stats.RateLimit // the window has turned over
	}
	t.mu.Unlock()
	return nil
}

// secondaryLimit reports whether resp is a secondary rate limit (403 or 429 with
// Retry-After, or with no requests left of the primary limit being 0 reported
// otherwise), and how long to wait.
func secondaryLimit(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	ra := resp.Header.Get("Retry-After")
	if ra == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(ra); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if at, err := http.ParseTime(ra); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// readRate keeps the core rate limit an answer reports.
func (t *transport) readRate(h http.Header) {
	if res := h.Get("X-RateLimit-Resource"); res != "" && res != "core" {
		return
	}
	limit, err1 := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	remaining, err2 := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	if err1 != nil || err2 != nil {
		return
	}
	used, _ := strconv.Atoi(h.Get("X-RateLimit-Used"))
	reset, _ := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	t.count(func(s *Stats) {
		s.RateLimit, s.RateRemaining, s.RateUsed, s.RateReset = limit, remaining, used, time.Unix(reset, 0)
	})
}

func (t *transport) count(fn func(*Stats)) {
	t.mu.Lock()
	fn(&t.stats)
	t.mu.Unlock()
}

func (t *transport) lookup(key string) *cached {
	if key == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.entries[key]
	if !ok {
		return nil
	}
	c := el.Value.(*cached)
	if !c.expires.IsZero() && !t.opts.now().Before(c.expires) {
		t.order.Remove(el)
		delete(t.entries, key)
		return nil
	}
	t.order.MoveToFront(el)
	return c
}

// store reads an answer's body, keeps it (a 200 under its ETag, a 403 or 404 until
// expires) and returns the answer with the body to read again.
func (t *transport) store(key string, req *http.Request, resp *http.Response, expires time.Time) (*http.Response, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCachedBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading GitHub's answer to %s: %w", req.URL.Path, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) > maxCachedBody {
		return resp, nil
	}
	c := &cached{key: key, etag: resp.Header.Get("ETag"), status: resp.StatusCode, header: resp.Header.Clone(), body: body, expires: expires}
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.entries[key]; ok {
		el.Value = c
		t.order.MoveToFront(el)
		return resp, nil
	}
	t.entries[key] = t.order.PushFront(c)
	for t.order.Len() > t.opts.entries {
		last := t.order.Back()
		t.order.Remove(last)
		delete(t.entries, last.Value.(*cached).key)
	}
	return resp, nil
}

// response rebuilds the kept answer, with the rate-limit headers of the 304 (fresh;
// nil for a kept 403 or 404, which was not asked again).
func (c *cached) response(req *http.Request, fresh http.Header) *http.Response {
	h := c.header.Clone()
	for _, k := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Used", "X-RateLimit-Reset", "X-RateLimit-Resource", "Date"} {
		if v := fresh.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return &http.Response{
		Status: strconv.Itoa(c.status) + " " + http.StatusText(c.status), StatusCode: c.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)), Request: req,
	}
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
}
