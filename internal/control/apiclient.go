package control

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DialAPI returns a Client of the team API at server (https://HOST[:PORT], as
// `run --listen` serves it) whose requests go through rt, the transport that adds the
// caller's credentials and trusts the server's certificate. It checks that the
// server answers /healthz. Only https is accepted: the bearer token is a Kubernetes
// credential.
func DialAPI(ctx context.Context, server string, rt http.RoundTripper) (*Client, error) {
	base, err := APIBase(server)
	if err != nil {
		return nil, err
	}
	if rt == nil {
		return nil, fmt.Errorf("control: DialAPI needs a transport")
	}
	c := &Client{base: base, where: base, http: &http.Client{Transport: rt}}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the team server %s does not answer: %w (is `clankerd run --listen` running there, and does --server-ca name the CA of its certificate?)", base, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the team server %s answered /healthz with HTTP %d: is that `clankerd run --listen`?", base, resp.StatusCode)
	}
	return c, nil
}

// APIBase checks a team server's URL (--server) and returns it without a trailing
// slash: https only, since the caller's Kubernetes credentials go with every request.
func APIBase(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--server %q: want https://HOST:PORT, the address of `clankerd run --listen`", server)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("--server %q: only https:// is accepted, since your Kubernetes credentials are sent with every request", server)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}
