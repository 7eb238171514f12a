package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// maxRequestBody bounds what a client may send; a run's findings fit easily.
const maxRequestBody = 64 << 20

// Server serves Local's operations over HTTP on a unix socket.
type Server struct {
	Local  *Local
	Logger *slog.Logger
}

// Handler routes POST /v1/OPERATION with a JSON body to the operation.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	l := s.Local
	handle(mux, s, "status", func(ctx context.Context, _ struct{}) (Status, error) { return l.Status(ctx) })
	handle(mux, s, "runs", l.Runs)
	handle(mux, s, "findings", l.Findings)
	handle(mux, s, "diff", func(ctx context.Context, _ struct{}) ([]store.FindingRecord, error) { return l.Diff(ctx) })
	handle(mux, s, "plans", l.Plans)
	handle(mux, s, "plan", func(ctx context.Context, r idRequest) (tasks.PlanRecord, error) { return l.Plan(ctx, r.ID) })
	handle(mux, s, "approve", func(ctx context.Context, r idRequest) (tasks.PlanRecord, error) {
		// An approval runs to its end even when the CLI goes away mid-apply.
		return l.Approve(context.WithoutCancel(ctx), r.ID, r.Actor)
	})
	handle(mux, s, "reject", func(ctx context.Context, r idRequest) (tasks.PlanRecord, error) {
		return l.Reject(ctx, r.ID, r.Actor, r.Reason)
	})
	handle(mux, s, "audit", l.Audit)
	handle(mux, s, "audit_verify", func(ctx context.Context, _ struct{}) (countResponse, error) {
		n, err := l.VerifyAudit(ctx)
		return countResponse{Count: n}, err
	})
	handle(mux, s, "audit_append", l.AppendAudit)
	handle(mux, s, "begin_run", func(ctx context.Context, r store.Receipt) (seqResponse, error) {
		seq, err := l.BeginRun(ctx, r)
		return seqResponse{Seq: seq}, err
	})
	handle(mux, s, "end_run", func(ctx context.Context, r endRunRequest) (store.RunResult, error) {
		return l.EndRun(ctx, r.Seq, r.End)
	})
	handle(mux, s, "add_receipt", func(ctx context.Context, r store.Receipt) (seqResponse, error) {
		seq, err := l.AddReceipt(ctx, r)
		return seqResponse{Seq: seq}, err
	})
	handle(mux, s, "queue_plan", func(ctx context.Context, r queueRequest) (queueResponse, error) {
		p, created, err := l.QueuePlan(ctx, r.Plan, r.Actor)
		return queueResponse{Plan: p, Created: created}, err
	})
	handleMutes(mux, s)
	return mux
}

func handle[Req, Resp any](mux *http.ServeMux, s *Server, name string, fn func(context.Context, Req) (Resp, error)) {
	mux.HandleFunc("POST /v1/"+name, func(w http.ResponseWriter, r *http.Request) {
		var req Req
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, errorResponse{Error: fmt.Sprintf("bad %s request: %v", name, err), Code: "invalid"})
			return
		}
		resp, err := fn(r.Context(), req)
		if err != nil {
			s.logger().Debug("control operation failed", "op", name, "err", err)
			writeJSON(w, http.StatusConflict, errorResponse{Error: err.Error(), Code: codeOf(err)})
			return
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Listen opens the control socket at path with mode 0600. A socket file left by a
// daemon that died is removed; one that still answers is an error.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the state directory: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another clankerd daemon is answering on %s; stop it first", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale control socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on the control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restricting the control socket %s to its owner: %w", path, err)
	}
	return ln, nil
}

// Serve serves the handler on ln until ctx is done, then shuts down, letting requests
// in flight finish for up to grace.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("control socket stopped: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
