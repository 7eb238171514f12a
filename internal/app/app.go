// Package app wires clankerd's parts the way every command and the daemon use them:
// the state database with its news rules, the backend that reaches the state (the
// daemon's control socket, or the database), the plan service and the runner. It is
// the only place they are built; their defaults are constants of the packages they
// belong to.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/notify"
	"github.com/clankerd/clankerd/internal/private"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// lockWait is how long a command waits for the database's lock before it says who
// holds it.
const lockWait = time.Second

// Socket is the path of the daemon's control socket in the state directory.
func Socket(stateDir string) string { return filepath.Join(stateDir, control.SocketName) }

// Files in the state directory, beside the database, that it must not hold itself.
const (
	// KeyFile holds the key (mode 0600) that signs plans and the audit checkpoint.
	KeyFile = "integrity.key"
	// CheckpointFile anchors the audit log's head outside the database.
	CheckpointFile = "audit.head"
)

// OpenLocal opens (creating it if needed) the state database in the state directory
// and returns the in-process backend over it. The database has the news rules, so
// every run and plan recorded through it queues its notifications in the same
// transaction, and the audit checkpoint; plans are signed with the state directory's
// key and move through a task service that applies the registry's tasks. A state
// directory another user owns or can write is refused (private.Dir).
func OpenLocal(stateDir string, opts store.Options, reg *checks.Registry, log *slog.Logger) (*control.Local, error) {
	return OpenLocalStore(context.Background(), stateDir, "", opts, reg, log)
}

// OpenLocalStore is OpenLocal with the state in the store location names (a --store
// value: postgres://…, or bbolt:PATH); "" is the state directory's state.db. The
// state directory still holds the key, the audit checkpoint and the control socket.
func OpenLocalStore(ctx context.Context, stateDir, location string, opts store.Options, reg *checks.Registry, log *slog.Logger) (*control.Local, error) {
	if err := private.Dir(stateDir); err != nil {
		return nil, err
	}
	key, anchor, err := stateKey(stateDir, os.Getenv(KeyEnv))
	if err != nil {
		return nil, err
	}
	opts.News = notify.News{}
	opts.Checkpoint = store.Checkpoint{
		Path:   filepath.Join(stateDir, CheckpointFile),
		Key:    subkey(key, "clankerd audit checkpoint"),
		Anchor: anchor,
	}
	if location == "" {
		location = filepath.Join(stateDir, store.FileName)
	}
	db, err := store.OpenLocation(ctx, location, opts)
	if err != nil {
		return nil, err
	}
	return &control.Local{DB: db, Tasks: &tasks.Service{Store: db, Tasks: reg, Key: subkey(key, "clankerd plan digest"), Logger: log}}, nil
}

// KeyEnv, when set, holds the integrity key (base64 of 32 bytes) instead of the state
// directory's integrity.key: replicas that share one --store must share the key that
// signs plans, and in Kubernetes it comes from a Secret (docs/team.md).
const KeyEnv = "CLANKERD_INTEGRITY_KEY"

// stateKey is the integrity key: fromEnv (KeyEnv's value) when set, else the state
// directory's key file, made on first use. anchor is true when the state directory
// has no audit checkpoint to hold the log to yet (a new key file, or a key from the
// environment in a state directory without a checkpoint: a new pod), so the log's
// current head becomes the first one.
func stateKey(stateDir, fromEnv string) (key []byte, anchor bool, err error) {
	if fromEnv != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(fromEnv))
		if err != nil || len(key) != 32 {
			return nil, false, fmt.Errorf("%s must be the base64 of 32 random bytes (make one with: head -c 32 /dev/urandom | base64)", KeyEnv)
		}
		_, statErr := os.Lstat(filepath.Join(stateDir, CheckpointFile))
		return key, errors.Is(statErr, fs.ErrNotExist), nil
	}
	keyPath := filepath.Join(stateDir, KeyFile)
	_, statErr := os.Lstat(keyPath)
	key, err = private.Key(keyPath, 32)
	if err != nil {
		return nil, false, err
	}
	return key, errors.Is(statErr, fs.ErrNotExist), nil
}

// subkey derives the key for one use from the state directory's key, so a digest
// made for one use never verifies as another.
func subkey(key []byte, use string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(use))
	return m.Sum(nil)
}

// Open reaches the state through the daemon's control socket when a daemon runs, and
// opens the database itself otherwise; reg applies approved plans then. A state
// directory another user owns or can write is refused, and so is a socket another
// user's process answers (control.ErrNotOurDaemon): nothing is sent there, and the
// database is not opened instead. The caller closes the backend.
func Open(ctx context.Context, stateDir string, reg *checks.Registry, log *slog.Logger) (control.Backend, error) {
	return OpenStore(ctx, stateDir, "", reg, log)
}

// OpenStore is Open with the state in the store location names when no daemon runs
// (see OpenLocalStore).
func OpenStore(ctx context.Context, stateDir, location string, reg *checks.Registry, log *slog.Logger) (control.Backend, error) {
	if err := private.Dir(stateDir); err != nil {
		return nil, err
	}
	socket := Socket(stateDir)
	c, err := control.Dial(ctx, socket)
	if err == nil {
		log.Debug("using the running daemon", "socket", socket)
		return c, nil
	}
	if !errors.Is(err, control.ErrNoDaemon) {
		return nil, err
	}
	return OpenLocalStore(ctx, stateDir, location, store.Options{Timeout: lockWait}, reg, log)
}

// RunnerOptions are what differs between the runners of check, ask, MCP and the
// daemon.
type RunnerOptions struct {
	// Actor is audited as the one who queued plans: "scheduler", the local user, "mcp:USER".
	Actor string
	// PlanExpiry is how long queued plans wait for approval (tasks.DefaultExpiry when zero).
	PlanExpiry time.Duration
	// MaxConcurrent bounds RunAll (runner.DefaultMaxConcurrent when zero).
	MaxConcurrent int
	// AfterRun is called with every recorded check outcome (the model's explanations).
	AfterRun func(context.Context, *runner.Outcome)
	// Agents is what the operator's configuration allows agents' items (ask and MCP);
	// the zero value is the defaults.
	Agents checks.AgentPolicy
	// FixApprover, when set, approves the fix= plans the operator's policy lets
	// through (the daemon's --approve-by-policy).
	FixApprover runner.FixApprover
	Logger      *slog.Logger
}

// NewRunner is the runner of the registry's checks and tasks that records through state.
func NewRunner(reg *checks.Registry, state control.Backend, o RunnerOptions) *runner.Runner {
	return &runner.Runner{
		Checks:        reg,
		Tasks:         reg,
		Planner:       &tasks.Planner{Tasks: reg, Expiry: o.PlanExpiry},
		State:         state,
		Actor:         o.Actor,
		MaxConcurrent: o.MaxConcurrent,
		AfterRun:      o.AfterRun,
		Agents:        o.Agents,
		FixApprover:   o.FixApprover,
		Logger:        o.Logger,
	}
}

// TokenFile holds the MCP HTTP bearer token in the state directory.
const TokenFile = "mcp-token"

// MCPToken is the bearer token MCP HTTP clients must send, kept in the state
// directory: made on first use (a new file, never one written through), replaced
// when rotate. A token file that is not the user's own of mode 0600 is refused with
// what to do, as is a state directory another user owns or can write.
func MCPToken(stateDir string, rotate bool) (string, error) {
	if err := private.Dir(stateDir); err != nil {
		return "", err
	}
	path := filepath.Join(stateDir, TokenFile)
	b, err := private.ReadSecret(path)
	write := private.ReplaceSecret
	switch {
	case errors.Is(err, fs.ErrNotExist):
		write = private.CreateSecret
	case err != nil:
		return "", fmt.Errorf("MCP token: %w", err)
	case !rotate && len(strings.TrimSpace(string(b))) >= 32:
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	t := hex.EncodeToString(buf)
	err = write(path, []byte(t+"\n"))
	if errors.Is(err, private.ErrExists) {
		// Another clankerd made it first: use theirs.
		return MCPToken(stateDir, false)
	}
	if err != nil {
		return "", fmt.Errorf("MCP token: %w", err)
	}
	return t, nil
}
