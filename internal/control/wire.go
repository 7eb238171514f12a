package control

import (
	"errors"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// SocketName is the control socket's file name in the state directory.
const SocketName = "clankerd.sock"

// The requests and responses of the operations that are not a single store type.
type (
	idRequest struct {
		ID     string `json:"id"`
		Actor  string `json:"actor,omitempty"`
		Reason string `json:"reason,omitempty"`
	}
	seqResponse struct {
		Seq uint64 `json:"seq"`
	}
	countResponse struct {
		Count int `json:"count"`
	}
	endRunRequest struct {
		Seq uint64       `json:"seq"`
		End store.RunEnd `json:"end"`
	}
	queueRequest struct {
		Plan  tasks.PlanRecord `json:"plan"`
		Actor string           `json:"actor"`
	}
	queueResponse struct {
		Plan    tasks.PlanRecord `json:"plan"`
		Created bool             `json:"created"`
	}
	errorResponse struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
)

// errorCodes carry the errors callers decide on across the socket.
var errorCodes = []struct {
	code string
	err  error
}{
	{"stale", tasks.ErrStale},
	{"expired", tasks.ErrExpired},
	{"not_pending", tasks.ErrNotPending},
	{"tampered", tasks.ErrTampered},
	{"apply_failed", tasks.ErrApplyFailed},
	{"drift", checks.ErrDrift},
	{"not_found", store.ErrNotFound},
	{"audit_broken", store.ErrAuditBroken},
	{"invalid_mute", store.ErrInvalidMute},
	{"mute_ended", store.ErrMuteEnded},
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
