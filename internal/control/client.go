package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ErrNoDaemon: nothing answers on the control socket.
var ErrNoDaemon = errors.New("no clankerd daemon answers on the control socket")

// Client performs the operations through a running daemon's control socket.
type Client struct {
	socket string
	http   *http.Client
}

// Dial connects to the daemon's socket and checks that it answers. It returns an
// error wrapping ErrNoDaemon when the socket is missing or nothing listens on it.
func Dial(ctx context.Context, socket string) (*Client, error) {
	c := &Client{socket: socket, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
	conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("%w (%s): %v", ErrNoDaemon, socket, err)
	}
	conn.Close()
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

func (c *Client) backend() {}

// call sends operation op with req as JSON and decodes the daemon's answer into resp.
func (c *Client) call(ctx context.Context, op string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encoding %s request: %w", op, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://clankerd/v1/"+op, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return fmt.Errorf("calling the daemon on %s (%s): %w", c.socket, op, err)
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(hresp.Body)
	if err != nil {
		return fmt.Errorf("reading the daemon's %s answer: %w", op, err)
	}
	if hresp.StatusCode != http.StatusOK {
		var e errorResponse
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			return fmt.Errorf("the daemon answered %s with HTTP %d: %s", op, hresp.StatusCode, bytes.TrimSpace(data))
		}
		return errorFromWire(e)
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("decoding the daemon's %s answer: %w", op, err)
	}
	return nil
}
