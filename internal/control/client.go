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

	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
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

func call[Req, Resp any](ctx context.Context, c *Client, op string, req Req) (Resp, error) {
	var resp Resp
	body, err := json.Marshal(req)
	if err != nil {
		return resp, fmt.Errorf("encoding %s request: %w", op, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://clankerd/v1/"+op, bytes.NewReader(body))
	if err != nil {
		return resp, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return resp, fmt.Errorf("calling the daemon on %s (%s): %w", c.socket, op, err)
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(hresp.Body)
	if err != nil {
		return resp, fmt.Errorf("reading the daemon's %s answer: %w", op, err)
	}
	if hresp.StatusCode != http.StatusOK {
		var e errorResponse
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			return resp, fmt.Errorf("the daemon answered %s with HTTP %d: %s", op, hresp.StatusCode, bytes.TrimSpace(data))
		}
		return resp, errorFromWire(e)
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return resp, fmt.Errorf("decoding the daemon's %s answer: %w", op, err)
	}
	return resp, nil
}

// Status reports the state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	return call[struct{}, Status](ctx, c, "status", struct{}{})
}

// Runs lists receipts, newest first.
func (c *Client) Runs(ctx context.Context, f store.RunFilter) ([]store.Receipt, error) {
	return call[store.RunFilter, []store.Receipt](ctx, c, "runs", f)
}

// Findings lists findings.
func (c *Client) Findings(ctx context.Context, f store.FindingFilter) ([]store.FindingRecord, error) {
	return call[store.FindingFilter, []store.FindingRecord](ctx, c, "findings", f)
}

// Diff lists what is new, changed and resolved since each item's previous run.
func (c *Client) Diff(ctx context.Context) ([]store.FindingRecord, error) {
	return call[struct{}, []store.FindingRecord](ctx, c, "diff", struct{}{})
}

// Plans lists plans.
func (c *Client) Plans(ctx context.Context, f tasks.PlanFilter) ([]tasks.PlanRecord, error) {
	return call[tasks.PlanFilter, []tasks.PlanRecord](ctx, c, "plans", f)
}

// Plan returns one plan.
func (c *Client) Plan(ctx context.Context, id string) (tasks.PlanRecord, error) {
	return call[idRequest, tasks.PlanRecord](ctx, c, "plan", idRequest{ID: id})
}

// Approve approves and applies a plan in the daemon.
func (c *Client) Approve(ctx context.Context, id, actor string) (tasks.PlanRecord, error) {
	return call[idRequest, tasks.PlanRecord](ctx, c, "approve", idRequest{ID: id, Actor: actor})
}

// Reject rejects a plan.
func (c *Client) Reject(ctx context.Context, id, actor, reason string) (tasks.PlanRecord, error) {
	return call[idRequest, tasks.PlanRecord](ctx, c, "reject", idRequest{ID: id, Actor: actor, Reason: reason})
}

// Audit lists audit records.
func (c *Client) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error) {
	return call[store.AuditFilter, []store.AuditRecord](ctx, c, "audit", f)
}

// VerifyAudit checks the audit chain.
func (c *Client) VerifyAudit(ctx context.Context) (int, error) {
	r, err := call[struct{}, countResponse](ctx, c, "audit_verify", struct{}{})
	return r.Count, err
}

// AppendAudit appends an audit record.
func (c *Client) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditRecord, error) {
	return call[store.AuditEntry, store.AuditRecord](ctx, c, "audit_append", e)
}

// BeginRun records the start of a run.
func (c *Client) BeginRun(ctx context.Context, r store.Receipt) (uint64, error) {
	resp, err := call[store.Receipt, seqResponse](ctx, c, "begin_run", r)
	return resp.Seq, err
}

// EndRun records the end of a run.
func (c *Client) EndRun(ctx context.Context, seq uint64, end store.RunEnd) (store.RunResult, error) {
	return call[endRunRequest, store.RunResult](ctx, c, "end_run", endRunRequest{Seq: seq, End: end})
}

// AddReceipt records a tick that did not run.
func (c *Client) AddReceipt(ctx context.Context, r store.Receipt) (uint64, error) {
	resp, err := call[store.Receipt, seqResponse](ctx, c, "add_receipt", r)
	return resp.Seq, err
}

// QueuePlan stores a drafted plan as pending in the daemon.
func (c *Client) QueuePlan(ctx context.Context, p tasks.PlanRecord, actor string) (tasks.PlanRecord, bool, error) {
	resp, err := call[queueRequest, queueResponse](ctx, c, "queue_plan", queueRequest{Plan: p, Actor: actor})
	return resp.Plan, resp.Created, err
}
