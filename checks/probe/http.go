package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// maxBody is how much of a response body is read to look for `contains=` text.
const maxBody = 1 << 20

// HTTPStatus checks that a URL answers with an expected status, and optionally that
// the body contains some text.
type HTTPStatus struct{}

var _ checks.Check = (*HTTPStatus)(nil)

// Spec describes http.status.
func (c *HTTPStatus) Spec() checks.Spec {
	return checks.Spec{
		ID:          "http.status",
		Description: "a URL answers with the expected HTTP status (and body text)",
		Params: []checks.ParamSpec{
			{Name: "url", Type: checks.URL, Required: true, Doc: "http:// or https:// URL to request"},
			{Name: "expect", Type: checks.String, Default: "200-399", Validate: validateExpect,
				Doc: "expected status: 200, 200-299, 2xx, or a comma-separated list of those"},
			{Name: "contains", Type: checks.String, Agent: checks.AgentRefused, Doc: "text the response body must contain (first 1 MiB)"},
			{Name: "max_redirects", Type: checks.Int, Default: "10", Validate: nonNegative,
				Doc: "redirects to follow; 0 checks the redirect response itself"},
			{Name: "method", Type: checks.Enum, Choices: []string{"GET", "HEAD"}, Default: "GET", Doc: "request method"},
			{Name: "insecure", Type: checks.Bool, Default: "false", Agent: checks.AgentConfigured, Doc: "skip TLS certificate verification"},
			caParam,
		},
		Keywords: []string{"http", "https", "url", "website", "site", "endpoint", "health", "healthz", "status code", "up", "down", "api"},
	}
}

// statusRange is an inclusive range of status codes.
type statusRange struct{ lo, hi int }

var expectPart = regexp.MustCompile(`^(?:([1-5])xx|(\d{3})(?:-(\d{3}))?)$`)

func parseExpect(s string) ([]statusRange, error) {
	var out []statusRange
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		m := expectPart.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("%q is not a status: write 200, 200-299, 2xx, or a comma-separated list of those", part)
		}
		var r statusRange
		switch {
		case m[1] != "":
			d, _ := strconv.Atoi(m[1])
			r = statusRange{d * 100, d*100 + 99}
		default:
			r.lo, _ = strconv.Atoi(m[2])
			r.hi = r.lo
			if m[3] != "" {
				r.hi, _ = strconv.Atoi(m[3])
			}
		}
		if r.lo < 100 || r.hi > 599 || r.lo > r.hi {
			return nil, fmt.Errorf("%q is not a status range between 100 and 599", part)
		}
		out = append(out, r)
	}
	return out, nil
}

func validateExpect(s string) error {
	_, err := parseExpect(s)
	return err
}

func nonNegative(s string) error {
	if n, err := strconv.Atoi(s); err == nil && n < 0 {
		return errors.New("must not be negative")
	}
	return nil
}

var errTooManyRedirects = errors.New("too many redirects")

// Run requests the URL once.
func (c *HTTPStatus) Run(ctx context.Context, p checks.Params) (checks.Result, error) {
	u, err := url.Parse(p.Get("url"))
	if err != nil {
		return checks.Result{}, fmt.Errorf("url: %w", err)
	}
	resource := u.Redacted()
	method, contains := p.Get("method"), p.Get("contains")
	if contains != "" && method == http.MethodHead {
		return checks.Result{}, errors.New("contains= needs method=GET: a HEAD response has no body")
	}
	expect, err := parseExpect(p.Get("expect"))
	if err != nil {
		return checks.Result{}, err
	}
	transport, err := transport(ctx, p)
	if err != nil {
		return checks.Result{}, err
	}
	maxRedirects := p.Int("max_redirects")
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if maxRedirects == 0 {
				return http.ErrUseLastResponse
			}
			if len(via) > maxRedirects {
				return errTooManyRedirects
			}
			return nil
		},
	}
	pctx, cancel, timeout := withTimeout(ctx, p)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, method, u.String(), nil)
	if err != nil {
		return checks.Result{}, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("User-Agent", "clankerd-probe")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		f, ferr := httpFailure(ctx, resource, u.Host, timeout, maxRedirects, err)
		if ferr != nil {
			return checks.Result{}, ferr
		}
		return checks.Result{Findings: []checks.Finding{f}}, nil
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	evidence := map[string]string{
		"latency_ms": millis(time.Since(start)),
		"status":     strconv.Itoa(resp.StatusCode),
		"bytes":      strconv.Itoa(len(body)),
	}
	var findings []checks.Finding
	if !inRanges(resp.StatusCode, expect) {
		sev := checks.Medium
		if resp.StatusCode >= 500 {
			sev = checks.High
		}
		ev := map[string]string{"status": strconv.Itoa(resp.StatusCode), "expect": p.Get("expect")}
		if final := resp.Request.URL.Redacted(); final != resource {
			ev["final_url"] = final
		}
		findings = append(findings, checks.Finding{
			Resource: resource, Problem: "unexpected_status", Severity: sev,
			Summary:  fmt.Sprintf("%s %s answered %d %s, expected %s", method, resource, resp.StatusCode, http.StatusText(resp.StatusCode), p.Get("expect")),
			Evidence: ev,
			Fix:      "look at the service's logs, or change expect= if this status is right",
		})
	}
	if contains != "" {
		switch {
		case readErr != nil:
			f, ferr := connFinding(ctx, resource, u.Host, timeout, readErr)
			if ferr != nil {
				return checks.Result{}, ferr
			}
			findings = append(findings, f)
		case !bytes.Contains(body, []byte(contains)):
			findings = append(findings, checks.Finding{
				Resource: resource, Problem: "missing_text", Severity: checks.Medium,
				Summary:  fmt.Sprintf("the response of %s does not contain %q", resource, contains),
				Evidence: map[string]string{"contains": contains, "status": strconv.Itoa(resp.StatusCode)},
				Fix:      "check what the page serves now, or change contains=",
			})
		}
	}
	return checks.Result{Findings: findings, Evidence: evidence}, nil
}

func inRanges(code int, rs []statusRange) bool {
	for _, r := range rs {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

// transport is a fresh transport for one run: the parameters' trust, and for an
// agent's run the destination policy on every connection (redirects included) and no
// proxy, which would dial on the agent's behalf where the policy cannot see.
func transport(ctx context.Context, p checks.Params) (*http.Transport, error) {
	roots, err := rootPool(p.Get("ca"))
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableKeepAlives = true
	t.TLSClientConfig = &tls.Config{RootCAs: roots, InsecureSkipVerify: p.Bool("insecure")}
	if checks.ReachFrom(ctx) != nil {
		t.DialContext = dialer(ctx, nil).DialContext
		t.Proxy = nil
	}
	return t, nil
}

// httpFailure turns a failed request into a finding (or an error when the run was
// cancelled).
func httpFailure(parent context.Context, resource, host string, timeout time.Duration, maxRedirects int, err error) (checks.Finding, error) {
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invalidErr x509.CertificateInvalidError
	switch {
	case parent.Err() != nil:
		return checks.Finding{}, parent.Err()
	case errors.Is(err, errTooManyRedirects):
		return checks.Finding{
			Resource: resource, Problem: "too_many_redirects", Severity: checks.Medium,
			Summary:  fmt.Sprintf("%s redirects more than %d times", resource, maxRedirects),
			Evidence: map[string]string{"max_redirects": strconv.Itoa(maxRedirects)},
			Fix:      "look for a redirect loop, or raise max_redirects=",
		}, nil
	case errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &authErr) || errors.As(err, &invalidErr):
		reason := "certificate not trusted"
		switch {
		case errors.As(err, &hostErr):
			reason = "certificate is not valid for " + host
		case errors.As(err, &invalidErr) && invalidErr.Reason == x509.Expired:
			reason = "certificate expired or not yet valid"
		case errors.As(err, &authErr):
			reason = "certificate signed by an unknown authority"
		}
		return checks.Finding{
			Resource: resource, Problem: "tls_error", Severity: checks.High,
			Summary:  fmt.Sprintf("TLS verification of %s failed: %s", resource, reason),
			Evidence: map[string]string{"reason": reason},
			Fix:      "renew or fix the certificate; for a private CA pass ca=FILE",
		}, nil
	}
	return connFinding(parent, resource, host, timeout, err)
}
