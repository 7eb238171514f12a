// Package kube is clankerd's Kubernetes provider: read-only checks of a cluster's
// workloads, nodes, exposure and RBAC, and write tasks (scale, restart, cordon, delete)
// that only ever run as approved plans. It finds credentials the way kubectl does.
package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clankerd/clankerd/checks"
)

// Options configure the provider.
type Options struct {
	// Watch keeps a watch-based cache of every kind a check reads, per context, so
	// scheduled checks cost the apiserver nothing between changes (the daemon).
	// Without it, each round lists every kind it needs once.
	Watch bool
	// Kubeconfig is an explicit kubeconfig path; empty means KUBECONFIG, then
	// ~/.kube/config, then the in-cluster service account.
	Kubeconfig string
	// Prices estimate the monthly cost of resource changes.
	Prices Prices
	Logger *slog.Logger
	// Now is the clock for time windows (default time.Now).
	Now func() time.Time
}

// Provider connects to clusters and holds the checks and tasks.
type Provider struct {
	opts     Options
	log      *slog.Logger
	requests atomic.Int64

	mu    sync.Mutex
	conns map[string]*conn
}

// New returns a provider; call Close when done.
func New(opts Options) *Provider {
	if opts.Prices == (Prices{}) {
		opts.Prices = DefaultPrices
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{opts: opts, log: log, conns: map[string]*conn{}}
}

// Register adds the Kubernetes checks and tasks to r.
func (p *Provider) Register(r *checks.Registry) error {
	return r.AddAll(p.checkList(), p.taskList())
}

// Requests is how many HTTP requests the provider has sent to apiservers.
func (p *Provider) Requests() int64 { return p.requests.Load() }

// Close stops every watch.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.requests.Load(); n > 0 {
		p.log.Debug("kubernetes API requests", "requests", n)
	}
	for _, c := range p.conns {
		c.close()
	}
	p.conns = map[string]*conn{}
	return nil
}

// conn is a connection to one kubeconfig context.
type conn struct {
	name   string // the context name, as resolved
	server string
	client kubernetes.Interface
	cache  *watchCache // nil unless Options.Watch
	// pages bounds the LIST pages in flight on the connection (listAll), whatever
	// their kinds: one can arrive while another is converted (pagesInFlight).
	pages chan struct{}
}

func (c *conn) close() {
	if c.cache != nil {
		c.cache.stop()
	}
}

// connect returns the connection for a kubeconfig context ("" = the current one).
// Without any kubeconfig it returns a checks.Skip error.
func (p *Provider) connect(contextName string) (*conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[contextName]; ok {
		return c, nil
	}
	cfg, name, err := p.restConfig(contextName)
	if err != nil {
		return nil, err
	}
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "clankerd"
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt, &p.requests} })
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building a client for context %q: %w", name, err)
	}
	c := &conn{name: name, server: cfg.Host, client: client, pages: make(chan struct{}, pagesInFlight)}
	if p.opts.Watch {
		c.cache = newWatchCache(client, p.log.With("context", name))
	}
	p.conns[contextName] = c
	return c, nil
}

// restConfig finds credentials like kubectl (see LoadConfig).
func (p *Provider) restConfig(contextName string) (*rest.Config, string, error) {
	cfg, name, _, err := LoadConfig(p.opts.Kubeconfig, contextName)
	return cfg, name, err
}

// LoadConfig finds credentials like kubectl: an explicit kubeconfig path, KUBECONFIG,
// ~/.kube/config, and, when none of those exist, the in-cluster service account. It
// returns the context's name ("in-cluster" for the service account) and its namespace
// ("" when the context names none). No credentials at all is a checks.Skip error.
func LoadConfig(kubeconfig, contextName string) (cfg *rest.Config, name, namespace string, err error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: contextName}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, "", "", fmt.Errorf("reading kubeconfig: %w", err)
	}
	if len(raw.Contexts) == 0 {
		if cfg, err := rest.InClusterConfig(); err == nil {
			if contextName != "" {
				return nil, "", "", fmt.Errorf("context %q: running in-cluster without a kubeconfig, only the pod's own cluster is reachable; drop context=", contextName)
			}
			return cfg, "in-cluster", "", nil
		}
		return nil, "", "", checks.Skip("no kubeconfig: KUBECONFIG is not set, ~/.kube/config does not exist and this is not a pod in a cluster")
	}
	name = contextName
	if name == "" {
		name = raw.CurrentContext
	}
	kctx, ok := raw.Contexts[name]
	if !ok {
		known := make([]string, 0, len(raw.Contexts))
		for k := range raw.Contexts {
			known = append(known, k)
		}
		sort.Strings(known)
		if name == "" {
			return nil, "", "", fmt.Errorf("the kubeconfig has no current context; pass context= (one of %s) or set kube_context: in the heartbeat", strings.Join(known, ", "))
		}
		return nil, "", "", fmt.Errorf("context %q is not in the kubeconfig; known contexts: %s", name, strings.Join(known, ", "))
	}
	cfg, err = loader.ClientConfig()
	if err != nil {
		return nil, "", "", fmt.Errorf("kubeconfig context %q: %w", name, err)
	}
	return cfg, name, kctx.Namespace, nil
}

type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

// apiError explains a failed API call: what was asked, of which cluster, and what to
// do about it.
func (c *conn) apiError(verb, what string, err error) error {
	if err == nil {
		return nil
	}
	where := fmt.Sprintf("context %q (%s)", c.name, c.server)
	var netErr net.Error
	switch {
	case errors.Is(err, checks.ErrDrift):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %s in %s: %w", verb, what, where, err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%s %s in %s: the apiserver rejected the credentials (expired token or certificate?); log in again or refresh the kubeconfig: %w", verb, what, where, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%s %s in %s: forbidden by RBAC%s; grant the read-only ClusterRole in contrib/kubernetes/clankerd-read.yaml: %w", verb, what, where, missingPermission(err), err)
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &netErr):
		return fmt.Errorf("%s %s in %s: cannot reach the apiserver: %w", verb, what, where, err)
	}
	return fmt.Errorf("%s %s in %s: %w", verb, what, where, err)
}

// forbiddenRE reads the permission an apiserver's Forbidden message says is missing:
// `User "u" cannot list resource "pods" in API group "" at the cluster scope`.
var forbiddenRE = regexp.MustCompile(`cannot (\w+) resource "([^"]+)" in API group "([^"]*)"`)

// missingPermission names the verb, resource and API group a Forbidden error lacks,
// as ": missing permission list pods (API group core)", or "" when the message does
// not say.
func missingPermission(err error) string {
	m := forbiddenRE.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	group := m[3]
	if group == "" {
		group = "core"
	}
	return fmt.Sprintf(": missing permission %s %s (API group %s)", m[1], m[2], group)
}
