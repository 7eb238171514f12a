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
	"os"
	"time"

	"github.com/clankerd/clankerd/internal/private"
)

// ErrNoDaemon: nothing answers on the control socket.
var ErrNoDaemon = errors.New("no clankerd daemon answers on the control socket")

// ErrNotOurDaemon: the control socket file, or the process answering on it, belongs
// to another user. Nothing is sent there.
var ErrNotOurDaemon = errors.New("the control socket is not your own daemon's")

// Client performs the operations through a running daemon: its control socket
// (Dial), or a team server's HTTPS API (DialAPI).
type Client struct {
	// base is the URL the operations are under: "http://clankerd" on the socket.
	base string
	// where names the daemon in messages: the socket's path, or the server's URL.
	where string
	http  *http.Client
}

// Dial connects to the daemon's socket and checks that it answers and that the
// socket file and the process answering are the user's own (the kernel's peer
// credentials), on this connection and on every later one. It returns an error
// wrapping ErrNoDaemon when the socket is missing or nothing listens on it, and one
// wrapping ErrNotOurDaemon when another user's file or process is there.
func Dial(ctx context.Context, socket string) (*Client, error) {
	return dial(ctx, socket, os.Getuid())
}

// dial is Dial for a daemon of user uid.
func dial(ctx context.Context, socket string, uid int) (*Client, error) {
	if err := checkSocketFile(socket, uid); err != nil {
		return nil, err
	}
	connect := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", socket)
		if err != nil {
			return nil, err
		}
		if err := checkPeer(conn, socket, uid); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
	c := &Client{base: "http://clankerd", where: socket, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return connect(ctx) },
	}}}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := connect(ctx)
	if errors.Is(err, ErrNotOurDaemon) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w (%s): %v", ErrNoDaemon, socket, err)
	}
	conn.Close()
	return c, nil
}

// checkSocketFile refuses a socket file that uid does not own: another user's
// process could answer there. A missing file means no daemon.
func checkSocketFile(socket string, uid int) error {
	fi, err := os.Lstat(socket)
	if err != nil {
		return fmt.Errorf("%w (%s): %v", ErrNoDaemon, socket, err)
	}
	if owner, ok := private.OwnerOf(fi); !ok || owner != uid {
		return fmt.Errorf("%w: %s is owned by uid %d, not by you (uid %d), so another user's process may answer there: nothing was sent to it; remove it and find out who put it there", ErrNotOurDaemon, socket, owner, uid)
	}
	return nil
}

// checkPeer refuses a connection answered by a process of another user than uid.
func checkPeer(conn net.Conn, socket string, uid int) error {
	p, err := peerOfConn(conn)
	if err != nil {
		return fmt.Errorf("%w: %s: %v, so it may be another user's process: nothing was sent to it", ErrNotOurDaemon, socket, err)
	}
	if p.UID != uid {
		return fmt.Errorf("%w: %s is answered by another user's process (uid %d, pid %d), not yours (uid %d): nothing was sent to it; stop that process or remove the socket, and find out who started it", ErrNotOurDaemon, socket, p.UID, p.PID, uid)
	}
	return nil
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
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/"+op, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return fmt.Errorf("calling the daemon on %s (%s): %w", c.where, op, err)
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
