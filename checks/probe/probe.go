// Package probe holds clankerd's network probe checks: HTTP status, TCP connect and
// TLS certificate expiry.
package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
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

// caParam is the `ca=` parameter of probes that verify TLS. It names a file, so agents
// may use only the files the operator allows.
var caParam = checks.ParamSpec{
	Name: "ca", Type: checks.String, Agent: checks.AgentConfigured,
	Doc: "PEM file of CA certificates to trust besides the system roots (private CAs; a regular file of at most 1 MiB)",
}

// maxCAFile bounds a ca= file: a CA bundle is a few hundred KiB at most.
const maxCAFile = 1 << 20

// errCAFile is the one error of every ca= file that cannot be used, whatever the
// reason (missing, unreadable, a directory, a device, a FIFO, too big, not PEM), so
// that it does not tell whether a path exists or what it is.
var errCAFile = errors.New("ca: cannot use this file as a CA bundle: give a regular PEM file of at most 1 MiB readable by you")

// rootPool returns the system roots plus the certificates in caFile.
func rootPool(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	pem, err := readCAFile(caFile)
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		return nil, errCAFile
	}
	return pool, nil
}

// readCAFile reads a regular file of at most maxCAFile bytes. It looks before it
// opens, so a device is never opened, and opens without blocking, so a FIFO put in
// the file's place meanwhile cannot hang the run; what it opened is looked at again.
func readCAFile(path string) ([]byte, error) {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() || fi.Size() > maxCAFile {
		return nil, errCAFile
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, errCAFile
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() > maxCAFile {
		return nil, errCAFile
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err != nil || len(b) > maxCAFile {
		return nil, errCAFile
	}
	return b, nil
}

// dialer is base (a plain net.Dialer when nil) under the run's destination policy:
// an agent's run dials only where checks.ReachFrom(ctx) allows, judged on the
// resolved address of every attempt.
func dialer(ctx context.Context, base *net.Dialer) *net.Dialer {
	d := &net.Dialer{}
	if base != nil {
		*d = *base
	}
	if r := checks.ReachFrom(ctx); r != nil {
		d.Control, d.ControlContext = r.Control, nil
	}
	return d
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
	// The destination policy refused the dial: the run could not evaluate, and the
	// target was not reached, so there is nothing to find about it.
	var refused *checks.DestinationError
	if errors.As(err, &refused) {
		return checks.Finding{}, refused
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
