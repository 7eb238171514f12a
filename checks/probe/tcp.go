package probe

import (
	"context"
	"net"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// TCPConnect checks that a TCP port accepts connections.
type TCPConnect struct {
	// Dialer is used to connect; the zero value is a plain net.Dialer.
	Dialer *net.Dialer
}

var _ checks.Check = (*TCPConnect)(nil)

// Spec describes tcp.connect.
func (c *TCPConnect) Spec() checks.Spec {
	return checks.Spec{
		ID:          "tcp.connect",
		Description: "a TCP port accepts connections",
		Params: []checks.ParamSpec{
			{Name: "addr", Type: checks.Addr, Required: true, Doc: "host:port to connect to"},
		},
		Keywords: []string{"tcp", "port", "connect", "reachable", "listening", "open port", "database up"},
	}
}

// Run connects once and closes the connection.
func (c *TCPConnect) Run(ctx context.Context, p checks.Params) (checks.Result, error) {
	addr := p.Get("addr")
	pctx, cancel, timeout := withTimeout(ctx, p)
	defer cancel()
	d := dialer(ctx, c.Dialer)
	start := time.Now()
	conn, err := d.DialContext(pctx, "tcp", addr)
	if err != nil {
		f, ferr := connFinding(ctx, "tcp://"+addr, addr, timeout, err)
		if ferr != nil {
			return checks.Result{}, ferr
		}
		return checks.Result{Findings: []checks.Finding{f}}, nil
	}
	remote := conn.RemoteAddr().String()
	conn.Close()
	return checks.Result{Evidence: map[string]string{"latency_ms": millis(time.Since(start)), "remote": remote}}, nil
}
