package control

import (
	"errors"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// errorResponse is what the server answers for a failed operation: the message and
// the code of the sentinel error it matched.
type errorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// errorCodes carry the errors callers decide on across the socket.
var errorCodes = []struct {
	code string
	err  error
}{
	{"stale", tasks.ErrStale},
	{"expired", tasks.ErrExpired},
	{"not_pending", tasks.ErrNotPending},
	{"tampered", tasks.ErrTampered},
	{"changed", tasks.ErrChanged},
	{"plan_exists", tasks.ErrPlanExists},
	{"apply_failed", tasks.ErrApplyFailed},
	{"drift", checks.ErrDrift},
	{"not_found", store.ErrNotFound},
	{"audit_broken", store.ErrAuditBroken},
	{"invalid_mute", store.ErrInvalidMute},
	{"mute_ended", store.ErrMuteEnded},
	{"agent_decision", ErrAgentDecision},
	{"unauthenticated", ErrUnauthenticated},
	{"forbidden", ErrForbidden},
	{"unavailable", ErrReviewUnavailable},
}

func codeOf(err error) string {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

// remoteError is an error the daemon returned: its message, and the sentinel it
// matched there so errors.Is works on this side too.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

func errorFromWire(r errorResponse) error {
	for _, c := range errorCodes {
		if c.code == r.Code {
			return &remoteError{msg: r.Error, sentinel: c.err}
		}
	}
	return &remoteError{msg: r.Error}
}
