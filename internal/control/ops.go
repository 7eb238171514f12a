package control

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// Backend is where operations run: *Local in this process, or *Client in the daemon
// through its control socket. Perform an operation with its Do method.
type Backend interface {
	// Close releases the backend (the database, or the client's connections).
	Close() error
	// backend seals the interface: *Local and *Client are the only backends.
	backend()
}

// Op is one operation on the state: its name on the socket, and how Local performs it.
type Op[Req, Resp any] struct {
	name string
	run  func(*Local, context.Context, Req) (Resp, error)
}

// Do performs the operation on b: directly against the database for a *Local, through
// the daemon for a *Client.
func (o Op[Req, Resp]) Do(ctx context.Context, b Backend, req Req) (Resp, error) {
	var resp Resp
	switch b := b.(type) {
	case *Local:
		return o.run(b, ctx, req)
	case *Client:
		err := b.call(ctx, o.name, req, &resp)
		return resp, err
	}
	return resp, fmt.Errorf("control: %T is not a backend", b)
}

// The operations on clankerd's state: the one table. Adding an operation is a line
// here and in served (unless only the daemon itself may perform it), and its method
// on Local.
var (
	OpStatus      = Op[None, Status]{"status", (*Local).status}
	OpRuns        = Op[store.RunFilter, []store.Receipt]{"runs", (*Local).runs}
	OpFindings    = Op[store.FindingFilter, []store.FindingRecord]{"findings", (*Local).findings}
	OpDiff        = Op[None, []store.FindingRecord]{"diff", (*Local).diff}
	OpPlans       = Op[tasks.PlanFilter, []tasks.PlanRecord]{"plans", (*Local).plans}
	OpPlan        = Op[string, tasks.PlanRecord]{"plan", (*Local).plan}
	OpApprove     = Op[Decision, tasks.PlanRecord]{"approve", (*Local).approve}
	OpReject      = Op[Decision, tasks.PlanRecord]{"reject", (*Local).reject}
	OpQueuePlan   = Op[QueueRequest, Queued]{"queue_plan", (*Local).queuePlan}
	OpAudit       = Op[store.AuditFilter, []store.AuditRecord]{"audit", (*Local).audit}
	OpVerifyAudit = Op[AuditVerify, int]{"audit_verify", (*Local).verifyAudit}
	OpAppendAudit = Op[store.AuditEntry, store.AuditRecord]{"audit_append", (*Local).appendAudit}
	OpBeginRun    = Op[store.Receipt, uint64]{"begin_run", (*Local).beginRun}
	OpEndRun      = Op[RunEnd, store.RunResult]{"end_run", (*Local).endRun}
	OpAddReceipt  = Op[store.Receipt, uint64]{"add_receipt", (*Local).addReceipt}
	OpMute        = Op[store.Mute, store.Mute]{"mute", (*Local).mute}
	OpMutes       = Op[MutesRequest, []store.Mute]{"mutes", (*Local).mutes}
	OpUnmute      = Op[Decision, store.Mute]{"unmute", (*Local).unmute}
	OpBaselines   = Op[store.BaselineSelector, []store.Baseline]{"baselines", (*Local).baselines}
	OpAccept      = Op[BaselineDecision, []store.ChangeRecord]{"baseline_accept", (*Local).acceptBaseline}
	OpReset       = Op[BaselineDecision, []store.ChangeRecord]{"baseline_reset", (*Local).resetBaseline}
	OpChanges     = Op[store.ChangeFilter, []store.ChangeRecord]{"changes", (*Local).changes}
)

// served is every operation the socket server answers. OpAppendAudit is not one of
// them: the daemon records its own events through its in-process Local, and no client
// may write an audit record of its choosing.
var served = []endpoint{
	OpStatus, OpRuns, OpFindings, OpDiff, OpPlans, OpPlan, OpApprove, OpReject, OpQueuePlan,
	OpAudit, OpVerifyAudit, OpBeginRun, OpEndRun, OpAddReceipt, OpMute, OpMutes, OpUnmute,
	OpBaselines, OpAccept, OpReset, OpChanges,
}

// The requests and responses that are not a single store or tasks type.
type (
	// None is the request of an operation that takes nothing.
	None struct{}
	// Decision names a plan (or a mute) and who decides about it; Reason is required
	// to reject. Actor counts only in this process (*Local, no daemon; empty is the
	// local user): through the socket the daemon records the user of the calling
	// process (its peer credentials) and ignores Actor. Digest, to approve, is the
	// digest of the plan as the approver was shown it: approve is refused when the
	// stored plan differs. Policy, to approve, names the rule of the operator's
	// approvals policy that matched the plan the approver read: the approval is then
	// audited as "policy:RULE (by USER)" with the rule named. The client matched it
	// (approvals.yaml is the user's file, read by the user's command), so it is the
	// same trust as approving with --yes.
	Decision struct {
		ID     string `json:"id"`
		Actor  string `json:"actor,omitempty"`
		Reason string `json:"reason,omitempty"`
		Digest string `json:"digest,omitempty"`
		Policy string `json:"policy,omitempty"`
	}
	// QueueRequest queues a drafted plan as a new pending plan. It carries only what a
	// caller may decide: the server gives the plan its id, state, times and digest,
	// and never replaces a stored plan. Actor, the surface that queued it
	// ("scheduler", "mcp:USER", the user), is audited, through the socket with the
	// calling process's user when Actor does not name it.
	QueueRequest struct {
		Draft tasks.Draft `json:"draft"`
		Actor string      `json:"actor"`
	}
	// AuditVerify asks to verify the audit log; Reanchor first accepts the log's
	// current head as the checkpoint, when the operator knows why it was missing or
	// behind.
	AuditVerify struct {
		Reanchor bool `json:"reanchor,omitempty"`
	}
	// Queued is the pending plan; Created is false when the item already had one.
	Queued struct {
		Plan    tasks.PlanRecord `json:"plan"`
		Created bool             `json:"created"`
	}
	// RunEnd ends the run Seq began.
	RunEnd struct {
		Seq uint64       `json:"seq"`
		End store.RunEnd `json:"end"`
	}
	// BaselineDecision accepts changes into baselines, or resets them: Actor counts as
	// in Decision (through the socket the calling process's user is audited).
	BaselineDecision struct {
		Select store.BaselineSelector `json:"select"`
		Actor  string                 `json:"actor,omitempty"`
		Reason string                 `json:"reason,omitempty"`
	}
	// MutesRequest asks for the active mutes, or all of them.
	MutesRequest struct {
		All bool `json:"all,omitempty"`
	}
)

// endpoint is an operation as the server sees it: a name, and a way to run it on a
// JSON request.
type endpoint interface {
	opName() string
	serve(ctx context.Context, l *Local, dec *json.Decoder) (any, error)
}

func (o Op[Req, Resp]) opName() string { return o.name }

// errBadRequest marks a request body that does not decode.
type errBadRequest struct{ err error }

func (e errBadRequest) Error() string { return e.err.Error() }

func (o Op[Req, Resp]) serve(ctx context.Context, l *Local, dec *json.Decoder) (any, error) {
	var req Req
	if err := dec.Decode(&req); err != nil {
		return nil, errBadRequest{fmt.Errorf("bad %s request: %w", o.name, err)}
	}
	return o.run(l, ctx, req)
}
