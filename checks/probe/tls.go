package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// TLSExpiry checks a server's certificate: that it is trusted, valid for the host, and
// not expiring within the warning window.
type TLSExpiry struct {
	// Dialer connects; the zero value is a plain net.Dialer.
	Dialer *net.Dialer
	// Now is the clock the certificate's validity is judged by (default time.Now).
	Now func() time.Time
}

var _ checks.Check = (*TLSExpiry)(nil)

// Spec describes tls.expiry.
func (c *TLSExpiry) Spec() checks.Spec {
	return checks.Spec{
		ID:          "tls.expiry",
		Description: "a TLS server's certificate is trusted, matches the host and is not about to expire",
		Params: []checks.ParamSpec{
			{Name: "addr", Type: checks.String, Required: true, Validate: validateTLSAddr, Doc: "host:port, or host for port 443"},
			{Name: "warn", Type: checks.Duration, Default: "14d", Doc: "report certificates expiring within this window"},
			{Name: "servername", Type: checks.String, Doc: "name to send (SNI) and verify; default: the host of addr"},
			caParam,
		},
		Keywords: []string{"tls", "ssl", "certificate", "cert", "certs", "expiry", "expire", "expiring", "https"},
	}
}

func validateTLSAddr(s string) error {
	_, _, err := tlsTarget(s)
	return err
}

// tlsTarget splits addr into host and a dialable host:port (port 443 by default).
func tlsTarget(addr string) (host, dial string, err error) {
	if h, port, err := net.SplitHostPort(addr); err == nil {
		if h == "" || port == "" {
			return "", "", fmt.Errorf("%q is not host:port or host", addr)
		}
		return h, addr, nil
	}
	if strings.ContainsAny(addr, "/ ") || addr == "" {
		return "", "", fmt.Errorf("%q is not host:port or host", addr)
	}
	return strings.Trim(addr, "[]"), net.JoinHostPort(strings.Trim(addr, "[]"), "443"), nil
}

// Run connects, reads the certificate chain and judges it. The handshake itself does
// not verify, so that an untrusted or mismatched certificate is still read: the chain
// is then verified with the same x509 rules crypto/tls applies, one question at a
// time, so each problem is reported for what it is.
func (c *TLSExpiry) Run(ctx context.Context, p checks.Params) (checks.Result, error) {
	host, dial, err := tlsTarget(p.Get("addr"))
	if err != nil {
		return checks.Result{}, err
	}
	name := p.Get("servername")
	if name == "" {
		name = host
	}
	roots, err := rootPool(p.Get("ca"))
	if err != nil {
		return checks.Result{}, err
	}
	resource := "tls://" + dial
	if name != host {
		resource += "/" + name
	}
	pctx, cancel, timeout := withTimeout(ctx, p)
	defer cancel()
	d := dialer(ctx, c.Dialer)
	td := &tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: name, InsecureSkipVerify: true}}
	start := time.Now()
	conn, err := td.DialContext(pctx, "tcp", dial)
	if err != nil {
		f, ferr := c.handshakeFailure(ctx, resource, dial, timeout, err)
		if ferr != nil {
			return checks.Result{}, ferr
		}
		return checks.Result{Findings: []checks.Finding{f}}, nil
	}
	state := conn.(*tls.Conn).ConnectionState()
	conn.Close()
	if len(state.PeerCertificates) == 0 {
		return checks.Result{}, fmt.Errorf("%s sent no certificate", dial)
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	leaf := state.PeerCertificates[0]
	left := leaf.NotAfter.Sub(now)
	res := checks.Result{Evidence: map[string]string{
		"latency_ms":  millis(time.Since(start)),
		"tls_version": tls.VersionName(state.Version),
		"days_left":   fmt.Sprintf("%.1f", left.Hours()/24),
	}}
	res.Findings = judge(resource, name, leaf, state.PeerCertificates[1:], roots, now, p.Duration("warn"))
	return res, nil
}

func (c *TLSExpiry) handshakeFailure(parent context.Context, resource, dial string, timeout time.Duration, err error) (checks.Finding, error) {
	var netErr net.Error
	var opErr *net.OpError
	isConn := errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "read" && !strings.Contains(err.Error(), "tls"))
	if parent.Err() != nil || isConn || errors.As(err, &netErr) && netErr.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return connFinding(parent, resource, dial, timeout, err)
	}
	return checks.Finding{
		Resource: resource, Problem: "tls_handshake", Severity: checks.High,
		Summary:  fmt.Sprintf("TLS handshake with %s failed: %v", dial, err),
		Evidence: map[string]string{"error": err.Error()},
		Fix:      "check that the port speaks TLS and supports TLS 1.2 or newer",
	}, nil
}

// judge returns one finding per problem with the certificate.
func judge(resource, name string, leaf *x509.Certificate, chain []*x509.Certificate, roots *x509.CertPool, now time.Time, warn time.Duration) []checks.Finding {
	evidence := func(extra ...string) map[string]string {
		ev := map[string]string{
			"not_after": leaf.NotAfter.UTC().Format(time.RFC3339),
			"subject":   leaf.Subject.CommonName,
			"issuer":    leaf.Issuer.CommonName,
			"dns_names": strings.Join(leaf.DNSNames, ","),
		}
		for i := 0; i+1 < len(extra); i += 2 {
			ev[extra[i]] = extra[i+1]
		}
		return ev
	}
	expires := leaf.NotAfter.UTC().Format("2006-01-02")
	var out []checks.Finding
	switch left := leaf.NotAfter.Sub(now); {
	case left <= 0:
		out = append(out, checks.Finding{
			Resource: resource, Problem: "cert_expired", Severity: checks.Critical,
			Summary:  fmt.Sprintf("the certificate of %s expired on %s", name, expires),
			Evidence: evidence(), Fix: "renew the certificate and reload the server",
		})
	case now.Before(leaf.NotBefore):
		out = append(out, checks.Finding{
			Resource: resource, Problem: "cert_not_yet_valid", Severity: checks.High,
			Summary:  fmt.Sprintf("the certificate of %s is not valid before %s", name, leaf.NotBefore.UTC().Format(time.RFC3339)),
			Evidence: evidence("not_before", leaf.NotBefore.UTC().Format(time.RFC3339)), Fix: "check the server's clock and the certificate",
		})
	case left < warn:
		sev := checks.Medium
		if left < 3*24*time.Hour {
			sev = checks.High
		}
		out = append(out, checks.Finding{
			Resource: resource, Problem: "cert_expiring", Severity: sev,
			Summary:  fmt.Sprintf("the certificate of %s expires on %s, within the %s warning window", name, expires, fmtDays(warn)),
			Evidence: evidence("warn", fmtDays(warn)), Fix: "renew the certificate before it expires",
		})
	}
	if err := leaf.VerifyHostname(name); err != nil {
		out = append(out, checks.Finding{
			Resource: resource, Problem: "cert_hostname_mismatch", Severity: checks.High,
			Summary:  fmt.Sprintf("the certificate of %s is not valid for %s (it names %s)", resource, name, strings.Join(certNames(leaf), ", ")),
			Evidence: evidence("servername", name), Fix: "serve a certificate that names this host, or set servername=",
		})
	}
	if reason := chainProblem(leaf, chain, roots, now); reason != "" {
		out = append(out, checks.Finding{
			Resource: resource, Problem: "cert_untrusted", Severity: checks.High,
			Summary:  fmt.Sprintf("the certificate of %s is not trusted: %s", name, reason),
			Evidence: evidence("reason", reason), Fix: "serve the full chain from a trusted CA; for a private CA pass ca=FILE",
		})
	}
	return out
}

// chainProblem verifies the chain to a root, judged at a moment when the leaf is
// valid so that expiry (reported on its own) does not hide a trust problem.
func chainProblem(leaf *x509.Certificate, chain []*x509.Certificate, roots *x509.CertPool, now time.Time) string {
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	at := now
	if at.After(leaf.NotAfter) {
		at = leaf.NotAfter.Add(-time.Second)
	}
	if at.Before(leaf.NotBefore) {
		at = leaf.NotBefore.Add(time.Second)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at})
	var authErr x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &authErr):
		return "signed by an unknown authority"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && !at.Equal(now):
		// A chain certificate was not valid when the leaf was: inconclusive, and the
		// leaf's own validity is reported already.
		return ""
	case errors.As(err, &invalid):
		return invalid.Error()
	}
	return err.Error()
}

func certNames(c *x509.Certificate) []string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	return names
}

func fmtDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
