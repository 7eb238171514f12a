package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/route"
)

// provider is what the commands need of a provider package: its checks and tasks, the
// names its questions use (contexts, namespaces, profiles), and what to close at the
// end.
type provider interface {
	Register(r *checks.Registry) error
	Close() error
	route.Provider
}

// providerOptions is what every provider is built with.
type providerOptions struct {
	// Watch is for the daemon: providers keep watch-based caches instead of listing
	// on every run.
	Watch  bool
	Logger *slog.Logger
}

// linkedProvider is one provider this build may link. build returns nil when a build
// tag (clankerd_nokube, clankerd_noaws) leaves the provider out of the binary.
type linkedProvider struct {
	name  string // for messages: "Kubernetes", "AWS"
	key   string // as `scan --provider` names it: "kube", "aws"
	build func(providerOptions) provider
}

// linkedProviders lists the providers, each in its own file with its one import
// (provider_kube.go, provider_aws.go) and a clankerd_no* counterpart that links
// nothing (provider_nokube.go, provider_noaws.go).
func linkedProviders() []linkedProvider {
	return []linkedProvider{
		{"Kubernetes", "kube", kubeProvider},
		{"AWS", "aws", awsProvider},
		{"GitHub", "github", githubProvider},
	}
}

// registerProviders builds the providers this build links and registers their checks
// and tasks in r; keys are the built providers' keys, in the same order. On failure
// it closes the providers it built.
func registerProviders(r *checks.Registry, opts providerOptions) (built []provider, keys []string, err error) {
	for _, l := range linkedProviders() {
		p := l.build(opts)
		if p == nil {
			continue
		}
		built, keys = append(built, p), append(keys, l.key)
		if err := p.Register(r); err != nil {
			return nil, nil, errors.Join(fmt.Errorf("registering %s checks: %w", l.name, err), closeProviders(built))
		}
	}
	return built, keys, nil
}

// routeProviders are the providers as the router takes them: the names they know and
// the parameters they take from a question.
func routeProviders(ps []provider) []route.Provider {
	out := make([]route.Provider, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// closeProviders closes the providers, the last built first.
func closeProviders(ps []provider) error {
	var errs []error
	for i := len(ps) - 1; i >= 0; i-- {
		errs = append(errs, ps[i].Close())
	}
	return errors.Join(errs...)
}
