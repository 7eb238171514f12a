// Package probe holds clankerd's network probe checks: HTTP status, TCP connect and
// TLS certificate expiry.
package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// Register adds the probe checks to r.
func Register(r *checks.Registry) error {
	return errors.Join(
		r.AddCheck(&HTTPStatus{}),
		r.AddCheck(&TCPConnect{}),
		r.AddCheck(&TLSExpiry{}),
	)
}

// caParam is the `ca=` parameter of probes that verify TLS.
var caParam = checks.ParamSpec{
	Name: "ca", Type: checks.String,
	Doc: "PEM file of CA certificates to trust besides the system roots (private CAs)",
}

// rootPool returns the system roots plus the certificates in caFile.
func rootPool(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading ca=%s: %w", caFile, err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca=%s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// withTimeout bounds a probe by its timeout parameter.
func withTimeout(ctx context.Context, p checks.Params) (context.Context, context.CancelFunc, time.Duration) {
	timeout := p.Duration("timeout")
	if timeout <= 0 {
		timeout = checks.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, cancel, timeout
}

// connFinding turns a failure to reach the target into a finding. It returns an error
// instead when the caller's context ended (the run was cancelled, not the target
// slow): that is not something the probe observed.
func connFinding(parent context.Context, resource, target string, timeout time.Duration, err error) (checks.Finding, error) {
	if perr := parent.Err(); perr != nil {
		return checks.Finding{}, perr
	}
	f := checks.Finding{
		Resource: resource,
		Severity: checks.High,
		Evidence: map[string]string{"target": target},
	}
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		f.Problem = "dns"
		f.Summary = fmt.Sprintf("cannot resolve %s", dnsErr.Name)
		f.Evidence["error"] = dnsError(dnsErr)
		f.Fix = "check the host name and DNS"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		f.Problem = "timeout"
		f.Summary = fmt.Sprintf("%s did not answer within %s", target, timeout)
		f.Evidence["error"] = "timeout"
		f.Evidence["timeout"] = timeout.String()
		f.Fix = "check that the service is up and reachable from here, or raise timeout="
	case errors.Is(err, syscall.ECONNREFUSED):
		f.Problem = "unreachable"
		f.Summary = fmt.Sprintf("%s refused the connection", target)
		f.Evidence["error"] = "connection refused"
		f.Fix = "check that the service is running and listening on that port"
	default:
		f.Problem = "unreachable"
		f.Summary = fmt.Sprintf("cannot connect to %s: %v", target, err)
		f.Evidence["error"] = err.Error()
		f.Fix = "check the network path to the target"
	}
	return f, nil
}

func dnsError(e *net.DNSError) string {
	switch {
	case e.IsNotFound:
		return "no such host"
	case e.IsTimeout:
		return "dns timeout"
	}
	return e.Err
}

func millis(d time.Duration) string { return fmt.Sprint(d.Milliseconds()) }
