package control

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/clankerd/clankerd/internal/httpx"
)

// The team API's refusals, as callers decide on them (errors.Is works through the
// Client too).
var (
	// ErrUnauthenticated: no bearer token, or one the cluster does not accept (401).
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrForbidden: the caller's RBAC does not grant what the operation needs (403),
	// or the operation is not served to this caller at all.
	ErrForbidden = errors.New("forbidden")
	// ErrReviewUnavailable: the TokenReview or SubjectAccessReview could not be made
	// (the apiserver is down or refuses the daemon): the request is refused (503),
	// never allowed.
	ErrReviewUnavailable = errors.New("the Kubernetes API could not review the request")
)

// Authenticator tells who holds a bearer token (a TokenReview). It returns an error
// wrapping ErrUnauthenticated for a token the cluster does not accept; any other
// error means it could not tell.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Caller, error)
}

// Authorizer decides whether c may do a (a SubjectAccessReview). An error means it
// could not decide, and the request is refused.
type Authorizer interface {
	Authorize(ctx context.Context, c Caller, a Access) (bool, error)
}

// APIHandler serves the operations over HTTP to callers holding a bearer token that
// authn accepts, each operation only when authz allows the caller its Access
// (apiAccess): 401 without an accepted token, 403 naming the verb and resource when
// RBAC denies it (and for the operations only the daemon performs), 503 when a
// review fails. The operation then runs with the Caller in its context, so the audit
// log records the authenticated user and groups. GET /healthz answers "ok" to anyone,
// with no data, for probes.
func (s *Server) APIHandler(authn Authenticator, authz Authorizer) http.Handler {
	mux := s.operations()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		c, err := authenticate(r, authn)
		if err != nil {
			s.refuse(w, r, Caller{}, err)
			return
		}
		op, _ := strings.CutPrefix(r.URL.Path, "/v1/")
		if err := authorize(r.Context(), c, op, authz); err != nil {
			s.refuse(w, r, c, err)
			return
		}
		mux.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
	})
}

// authenticate reviews the request's bearer token.
func authenticate(r *http.Request, authn Authenticator) (Caller, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return Caller{}, fmt.Errorf("%w: send a bearer token (the CLI's --server sends your kubeconfig's credentials; a kubeconfig user with only a client certificate cannot be reviewed: use a token or an exec plugin)", ErrUnauthenticated)
	}
	c, err := authn.Authenticate(r.Context(), strings.TrimSpace(token))
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			return Caller{}, err
		}
		return Caller{}, fmt.Errorf("%w: TokenReview: %v", ErrReviewUnavailable, err)
	}
	c.Via = ViaAPI
	return c, nil
}

// authorize refuses op to c unless the team API serves it and authz grants its Access.
func authorize(ctx context.Context, c Caller, op string, authz Authorizer) error {
	if why, ok := daemonOnly[op]; ok {
		return fmt.Errorf("%w: %s is not served through the team API: %s", ErrForbidden, op, why)
	}
	a, ok := accessFor(op)
	if !ok {
		return fmt.Errorf("%w: %q is not an operation of the team API", ErrForbidden, op)
	}
	allowed, err := authz.Authorize(ctx, c, a)
	switch {
	case err != nil:
		return fmt.Errorf("%w: SubjectAccessReview of %s for %s: %v", ErrReviewUnavailable, a, c.User, err)
	case !allowed:
		return fmt.Errorf("%w: %s may not %s %s (API group %s): %s needs it; see the ClusterRoles in contrib/kubernetes (clankerd-viewer, clankerd-proposer, clankerd-approver)", ErrForbidden, c.User, a.Verb, a.Resource, Group, op)
	}
	return nil
}

// refuse answers a refused request with the status and code of err, and logs who
// was refused (never the token).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, c Caller, err error) {
	status, code := http.StatusServiceUnavailable, "unavailable"
	switch {
	case errors.Is(err, ErrUnauthenticated):
		status, code = http.StatusUnauthorized, "unauthenticated"
		w.Header().Set("WWW-Authenticate", `Bearer realm="clankerd"`)
	case errors.Is(err, ErrForbidden):
		status, code = http.StatusForbidden, "forbidden"
	}
	s.logger().Warn("team API request refused", "path", r.URL.Path, "user", c.User, "groups", c.Groups, "status", status, "err", err)
	writeJSON(w, status, errorResponse{Error: err.Error(), Code: code})
}

// ServeAPI serves APIHandler over TLS (tlsConfig holds the certificate, such as
// httpx.CertFiles' GetCertificate) on ln until ctx is done, then shuts down, letting
// requests in flight finish for up to grace.
func (s *Server) ServeAPI(ctx context.Context, ln net.Listener, tlsConfig *tls.Config, authn Authenticator, authz Authorizer, grace time.Duration) error {
	if authn == nil || authz == nil || tlsConfig == nil {
		return errors.New("control: the team API needs an authenticator, an authorizer and a TLS configuration")
	}
	srv := &http.Server{Handler: s.APIHandler(authn, authz), ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig}
	if err := httpx.Serve(ctx, srv, tls.NewListener(ln, tlsConfig), grace); err != nil {
		return fmt.Errorf("team API: %w", err)
	}
	return nil
}
