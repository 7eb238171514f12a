// Package notify tells people what changed. Its news rules (News) decide, inside the
// transaction that records a run or a plan, what is worth telling and queue it in the
// store's outbox; its sender delivers the outbox in stages (route, expire, filter,
// deliver, record) to the targets of one table (webhooks, Slack-compatible webhooks,
// desktop notifications, commands), with rate limits, retries and backoff, until each
// notification is delivered or expires. What a target receives is built by
// internal/view.
package notify

import (
	"context"
	"errors"

	"github.com/clankerd/clankerd/internal/view"
)

// Target delivers one notification to one place. Send returns a *PermanentError (see
// Permanent) when retrying cannot help.
type Target interface {
	Send(ctx context.Context, n view.Notification) error
}

// PermanentError is a delivery failure that retrying cannot fix (the receiver refused
// the request, the desktop tool is missing): the sender gives up on that target.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return &PermanentError{Err: err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
