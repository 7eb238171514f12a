package store

import (
	"context"
	"slices"
)

// auditGroupsKey is the context key of WithAuditGroups.
type auditGroupsKey struct{}

// WithAuditGroups returns ctx carrying the groups of the authenticated caller a
// change is made for (the team API's TokenReview): every audit record appended in a
// transaction that Update begins with it records them, unless its entry names
// groups of its own. The actor stays whatever the operation audits.
func WithAuditGroups(ctx context.Context, groups []string) context.Context {
	if len(groups) == 0 {
		return ctx
	}
	return context.WithValue(ctx, auditGroupsKey{}, slices.Clone(groups))
}

// auditGroups are the groups WithAuditGroups put in ctx, or nil.
func auditGroups(ctx context.Context) []string {
	g, _ := ctx.Value(auditGroupsKey{}).([]string)
	return g
}
