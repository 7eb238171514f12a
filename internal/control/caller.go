package control

import (
	"context"
	"errors"
	"slices"

	"github.com/clankerd/clankerd/internal/store"
)

// Caller is who sends an operation through the team API: the user and groups a
// TokenReview returned for the bearer token, never what the request says.
type Caller struct {
	// User is the Kubernetes user name ("alice", "system:serviceaccount:NS:NAME");
	// it is the actor the audit log records.
	User   string   `json:"user"`
	Groups []string `json:"groups,omitempty"`
	UID    string   `json:"uid,omitempty"`
	// Via is the surface the caller came through: ViaAPI or ViaMCP.
	Via string `json:"via"`
}

// The surfaces an authenticated caller comes through.
const (
	// ViaAPI is the HTTPS control API (`run --listen`), used by the CLI's --server.
	ViaAPI = "api"
	// ViaMCP is the MCP HTTP transport of a team server: an agent, which may read and
	// propose but never decide (ErrAgentDecision).
	ViaMCP = "mcp"
)

// ErrAgentDecision: an agent (an MCP caller) asked to approve, reject, mute,
// unmute, or accept or reset a baseline. Only a person decides, whatever RBAC grants
// the agent's identity.
var ErrAgentDecision = errors.New("an agent cannot decide: only a person approves, rejects, mutes or accepts, with the clankerd CLI")

// callerKey is the context key of WithCaller.
type callerKey struct{}

// WithCaller returns ctx carrying the authenticated caller: the operations performed
// with it audit c.User (and c.Groups) as who did them.
func WithCaller(ctx context.Context, c Caller) context.Context {
	c.Groups = slices.Clone(c.Groups)
	return store.WithAuditGroups(context.WithValue(ctx, callerKey{}, c), c.Groups)
}

// CallerFrom is the authenticated caller ctx carries; ok is false for the unix socket
// and for operations performed in this process.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// decides refuses a decision (approve, reject, mute, unmute, baseline accept or
// reset) that an agent sends.
func decides(ctx context.Context) error {
	if c, ok := CallerFrom(ctx); ok && c.Via == ViaMCP {
		return ErrAgentDecision
	}
	return nil
}
