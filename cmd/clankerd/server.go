package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/httpx"
	"github.com/clankerd/clankerd/internal/kubeauth"
)

// serverFlags say how the commands reach a team server (`clankerd run --listen`)
// instead of the local daemon or database.
type serverFlags struct {
	url, ca, context string
	insecure         bool
}

func (s *serverFlags) register(f *pflag.FlagSet) {
	f.StringVar(&s.url, "server", os.Getenv("CLANKERD_SERVER"), "reach the team server at this https:// URL with your kubeconfig's credentials, instead of the local state (env CLANKERD_SERVER; see docs/team.md)")
	f.StringVar(&s.ca, "server-ca", os.Getenv("CLANKERD_SERVER_CA"), "PEM file of the CA that signed the team server's certificate (env CLANKERD_SERVER_CA; default: the system's roots)")
	f.StringVar(&s.context, "server-context", "", "kubeconfig context whose user's credentials are sent to --server (default: the current context)")
	f.BoolVar(&s.insecure, "insecure-skip-tls-verify", false, "do not check the team server's certificate: anyone on the network path could read your Kubernetes token")
}

// dial connects to the team server with the kubeconfig user's credentials.
func (s *serverFlags) dial(ctx context.Context, stderr io.Writer) (*control.Client, error) {
	if _, err := control.APIBase(s.url); err != nil {
		return nil, withCode(exitBadInput, err)
	}
	if s.insecure {
		fmt.Fprintln(stderr, "clankerd: WARNING: --insecure-skip-tls-verify: the team server's certificate is not checked, so anyone on the network path can impersonate it and read your Kubernetes token")
	}
	rt, err := kubeauth.Transport(kubeauth.ClientOptions{Context: s.context, ServerCA: s.ca, InsecureSkipVerify: s.insecure})
	if err != nil {
		return nil, withCode(exitBadInput, err)
	}
	c, err := control.DialAPI(ctx, s.url, rt)
	return c, withCode(exitErr, err)
}

// teamFlags are what a team server needs to authenticate its callers: its
// certificate (callers send Kubernetes tokens, so TLS only) and the kubeconfig it
// reviews them with.
type teamFlags struct {
	certFile, keyFile, kubeconfig string
}

func (f *teamFlags) register(fs *pflag.FlagSet, what string) {
	fs.StringVar(&f.certFile, "tls-cert", "", "PEM certificate for "+what+"; re-read when the file changes")
	fs.StringVar(&f.keyFile, "tls-key", "", "PEM key of --tls-cert; re-read when the file changes")
	fs.StringVar(&f.kubeconfig, "api-kubeconfig", "", "kubeconfig the TokenReviews and SubjectAccessReviews are made with (default: KUBECONFIG, ~/.kube/config, else the pod's service account)")
}

// teamAuth is a team server's certificate and reviewers.
type teamAuth struct {
	tls   *tls.Config
	authn *kubeauth.Authenticator
	authz *kubeauth.Authorizer
	host  string // the Kubernetes API the reviews go to
}

// load loads the certificate and builds the reviewers' client; what names the
// listener in messages (--listen 127.0.0.1:8443).
func (f *teamFlags) load(what string) (*teamAuth, error) {
	if f.certFile == "" || f.keyFile == "" {
		return nil, withCode(exitBadInput, fmt.Errorf("%s: a team server is served over HTTPS only, since callers send Kubernetes tokens: add --tls-cert FILE and --tls-key FILE", what))
	}
	certs, err := httpx.LoadCertFiles(f.certFile, f.keyFile)
	if err != nil {
		return nil, withCode(exitBadInput, err)
	}
	client, host, err := reviewClient(f.kubeconfig)
	if err != nil {
		return nil, withCode(exitBadInput, fmt.Errorf("the team server reviews its callers with the Kubernetes API: %w", err))
	}
	return &teamAuth{tls: certs.TLSConfig(), authn: &kubeauth.Authenticator{Client: client}, authz: &kubeauth.Authorizer{Client: client}, host: host}, nil
}

// apiFlags are run's team API flags.
type apiFlags struct {
	listen string
	team   teamFlags
}

func (f *apiFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.listen, "listen", "", "serve the team API over HTTPS on HOST:PORT (such as :8443), authenticated by Kubernetes TokenReview and authorized by RBAC; needs --tls-cert and --tls-key (see docs/team.md)")
	f.team.register(fs, "--listen")
}

// apiGrace is how long team API requests in flight may take to finish on shutdown.
const apiGrace = 5 * time.Second

// open prepares the team API when --listen is given, and returns nils otherwise: the
// certificate is loaded, the reviewers' client built and the port opened now, so a
// mistake stops the daemon before it starts. serve serves until its context ends;
// closeFn closes the port (safe after serve, too).
func (f *apiFlags) open(log *slog.Logger) (serve func(context.Context, *control.Local) error, closeFn func(), err error) {
	if f.listen == "" {
		if f.team.certFile != "" || f.team.keyFile != "" {
			return nil, nil, withCode(exitBadInput, fmt.Errorf("--tls-cert and --tls-key are for the team API: add --listen HOST:PORT"))
		}
		return nil, func() {}, nil
	}
	team, err := f.team.load("--listen " + f.listen)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return nil, nil, withCode(exitErr, fmt.Errorf("--listen %s: %w (is the port in use?)", f.listen, err))
	}
	log.Info("serving the team API", "url", "https://"+ln.Addr().String(), "kubernetes", team.host)
	serve = func(ctx context.Context, local *control.Local) error {
		srv := &control.Server{Local: local, Logger: log}
		return srv.ServeAPI(ctx, ln, team.tls, team.authn, team.authz, apiGrace)
	}
	return serve, func() { ln.Close() }, nil
}
