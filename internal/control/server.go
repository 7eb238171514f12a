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

	"github.com/clankerd/clankerd/internal/httpx"
	"github.com/clankerd/clankerd/internal/private"
)

// SocketName is the control socket's file name in the state directory.
const SocketName = "clankerd.sock"

// maxRequestBody bounds what a client may send; a run's findings fit easily.
const maxRequestBody = 64 << 20

// Server serves the operations in served on a unix socket, performed by Local, to
// processes of the daemon's own user only.
type Server struct {
	Local  *Local
	Logger *slog.Logger
	// uid is the user whose processes may call; os.Getuid() unless a test sets it.
	uid *int
}

func (s *Server) owner() int {
	if s.uid != nil {
		return *s.uid
	}
	return os.Getuid()
}

// Handler routes POST /v1/OPERATION with a JSON body to the operation. A request whose
// connection is not from a process of the daemon's user (the peer credentials Serve
// puts in the request's context) is refused with 403.
func (s *Server) Handler() http.Handler {
	mux := s.operations()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok, err := peerFrom(r.Context())
		if err == nil && !ok {
			err = errNoPeer
		}
		if err == nil && p.UID != s.owner() {
			err = fmt.Errorf("uid %d (pid %d) is not the daemon's user (uid %d)", p.UID, p.PID, s.owner())
		}
		if err != nil {
			s.logger().Warn("control socket request refused", "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusForbidden, errorResponse{Error: "refused: only the daemon's own user may use its control socket", Code: "forbidden"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) operations() http.Handler {
	mux := http.NewServeMux()
	for _, op := range served {
		name := op.opName()
		mux.HandleFunc("POST /v1/"+name, func(w http.ResponseWriter, r *http.Request) {
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
			dec.DisallowUnknownFields()
			resp, err := op.serve(r.Context(), s.Local, dec)
			var bad errBadRequest
			switch {
			case errors.As(err, &bad):
				writeJSON(w, http.StatusBadRequest, errorResponse{Error: bad.Error(), Code: "invalid"})
			case err != nil:
				s.logger().Debug("control operation failed", "op", name, "err", err)
				writeJSON(w, http.StatusConflict, errorResponse{Error: err.Error(), Code: codeOf(err)})
			default:
				writeJSON(w, http.StatusOK, resp)
			}
		})
	}
	return mux
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

// Listen opens the control socket at path with mode 0600, in a directory only the
// user may change (private.Dir). A socket file left by a daemon that died is removed;
// one that still answers is an error.
func Listen(path string) (net.Listener, error) {
	if err := private.Dir(filepath.Dir(path)); err != nil {
		return nil, err
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

// Serve serves the handler on ln until ctx is done, with each connection's peer
// credentials in its requests' context, then shuts down, letting requests
// in flight finish for up to grace.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ConnContext: withPeer}
	if err := httpx.Serve(ctx, srv, ln, grace); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	return nil
}
