// Package notify tells people what changed: it turns the store's outbox events into
// notifications, filters them per target (minimum severity, rate limit), delivers them
// to webhooks, Slack-compatible webhooks, desktop notifications and commands, and
// retries with backoff until each is delivered or expires.
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
