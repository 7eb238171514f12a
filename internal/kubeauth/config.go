package kubeauth

import (
	"errors"
	"fmt"
	"net/http"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ErrNoReviewableCredential: the kubeconfig user has no credential a TokenReview can
// check (only a client certificate, or nothing).
var ErrNoReviewableCredential = errors.New("the kubeconfig user has no bearer token")

// ClientOptions say how the CLI reaches a team server.
type ClientOptions struct {
	// Kubeconfig is the user's kubeconfig ("" is KUBECONFIG or ~/.kube/config) and
	// Context its context ("" the current one): the credentials sent are its user's.
	Kubeconfig, Context string
	// ServerCA is the PEM file of the CA that signed the team server's certificate
	// ("" trusts the system's roots).
	ServerCA string
	// InsecureSkipVerify trusts any certificate the server presents: anyone on the
	// path could then read the token.
	InsecureSkipVerify bool
}

// Transport is the CLI's transport to a team server: it sends the kubeconfig user's
// bearer token (a token, a token file, or an exec or auth-provider plugin, refreshed
// as kubectl would) and verifies the server's certificate against o.ServerCA, not
// against the cluster's CA. A user with only a client certificate is refused
// (ErrNoReviewableCredential): a TokenReview cannot check a certificate.
func Transport(o ClientOptions) (http.RoundTripper, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading your kubeconfig for --server: %w", err)
	}
	if cfg.BearerToken == "" && cfg.BearerTokenFile == "" && cfg.ExecProvider == nil && cfg.AuthProvider == nil {
		return nil, fmt.Errorf("%w: the team server checks a bearer token with a TokenReview, and a client certificate (or a user name and password) cannot be reviewed; use a context whose user has a token or an exec plugin (such as a cloud provider's `get-token`), or `kubectl create token` for a ServiceAccount", ErrNoReviewableCredential)
	}
	if o.ServerCA != "" && o.InsecureSkipVerify {
		return nil, errors.New("--server-ca and --insecure-skip-tls-verify exclude each other")
	}
	// The credentials stay; the TLS settings are the team server's, not the cluster's.
	cfg = rest.CopyConfig(cfg)
	cfg.TLSClientConfig = rest.TLSClientConfig{CAFile: o.ServerCA, Insecure: o.InsecureSkipVerify}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the transport to the team server: %w", err)
	}
	return rt, nil
}
