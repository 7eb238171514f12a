package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/daemon"
	"github.com/clankerd/clankerd/internal/mcpserver"
	"github.com/clankerd/clankerd/internal/notify"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// tokenFile holds the MCP HTTP bearer token in the state directory.
const tokenFile = "mcp-token"

func (a *app) mcpCommand() *cobra.Command {
	var transport, listen string
	var allowRemote bool
	var origins []string
	var mf modelFlags
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve clankerd's tools to agents over the Model Context Protocol (stdio or HTTP)",
		Long: `mcp serves clankerd to agents: clanker_version, clanker_route_question (like ask),
clanker_run_command (one named check; a task only queues a plan), clankerd_findings,
clankerd_plans and clankerd_propose_plan. No tool can approve or apply a plan.

--transport stdio (the default) is for an agent that starts clankerd itself.
--transport http serves streamable HTTP at /mcp on --listen, loopback only unless
--allow-remote; every request needs "Authorization: Bearer TOKEN" (the token is made
on first start, mode 0600, and printed by ` + "`clankerd mcp token`" + `), browser
origins other than loopback are refused, and bodies are limited to 1 MiB.

While the daemon runs, calls go through its control socket; otherwise this process
opens the state database for as long as it runs (start the daemon first if you want
both).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			provs, svc, err := a.askProviders(mf)
			if err != nil {
				return err
			}
			defer provs.Close()
			backend, closeBackend, err := a.mcpBackend(ctx, provs)
			if err != nil {
				return err
			}
			defer closeBackend()
			s := &mcpserver.Server{Version: version, Ask: svc, Catalog: provs.registry, Planner: &tasks.Planner{Tasks: provs.registry},
				Backend: backend, Actor: "mcp:" + actorName(), Logger: a.logger}
			switch transport {
			case "stdio":
				return s.MCP().Run(ctx, &mcp.StdioTransport{})
			case "http":
				return a.serveMCPHTTP(ctx, s, listen, allowRemote, origins)
			}
			return withCode(exitBadInput, fmt.Errorf("--transport %q: use stdio or http", transport))
		},
	}
	f := cmd.Flags()
	f.StringVar(&transport, "transport", "stdio", "stdio or http")
	f.StringVar(&listen, "listen", "127.0.0.1:39393", "address for --transport http")
	f.BoolVar(&allowRemote, "allow-remote", false, "allow a non-loopback --listen address (the token is still required)")
	f.StringSliceVar(&origins, "allow-origin", nil, "browser origin allowed besides loopback ones; repeatable")
	mf.register(cmd)
	cmd.AddCommand(a.mcpTokenCommand())
	return cmd
}

// mcpBackend returns how tools reach the state: the daemon's socket per call when a
// daemon runs, else one database opened for the server's lifetime.
func (a *app) mcpBackend(ctx context.Context, provs *providers) (func(context.Context) (mcpserver.Backend, func() error, error), func() error, error) {
	socket := filepath.Join(a.stateDir, control.SocketName)
	if c, err := control.Dial(ctx, socket); err == nil {
		c.Close()
		return func(ctx context.Context) (mcpserver.Backend, func() error, error) {
			c, err := control.Dial(ctx, socket)
			if err != nil {
				return nil, nil, fmt.Errorf("reaching the daemon at %s: %w", socket, err)
			}
			return c, c.Close, nil
		}, func() error { return nil }, nil
	}
	if err := os.MkdirAll(a.stateDir, 0o700); err != nil {
		return nil, nil, err
	}
	db, err := store.Open(filepath.Join(a.stateDir, daemon.DatabaseName), store.Options{Timeout: time.Second, News: notify.News{}})
	if err != nil {
		return nil, nil, withCode(exitErr, err)
	}
	local := &control.Local{DB: db, Tasks: &tasks.Service{Store: db, Tasks: provs.registry, Logger: a.logger}}
	return func(context.Context) (mcpserver.Backend, func() error, error) {
		return local, func() error { return nil }, nil
	}, db.Close, nil
}

func (a *app) serveMCPHTTP(ctx context.Context, s *mcpserver.Server, listen string, allowRemote bool, origins []string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return withCode(exitBadInput, fmt.Errorf("--listen %q: %w", listen, err))
	}
	if ip := net.ParseIP(host); !allowRemote && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return withCode(exitBadInput, fmt.Errorf("--listen %s is not a loopback address: anyone who can reach it could call clankerd's tools; pass --allow-remote to mean it", listen))
	}
	token, err := a.mcpToken(false)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return withCode(exitErr, fmt.Errorf("listening on %s: %w", listen, err))
	}
	srv := &http.Server{Handler: s.Handler(mcpserver.HTTPOptions{Token: token, AllowOrigins: origins}), ReadHeaderTimeout: 10 * time.Second}
	a.logger.Info("serving MCP over HTTP", "url", "http://"+ln.Addr().String()+"/mcp", "token", "see `clankerd mcp token`")
	fmt.Fprintf(a.stderr, "clankerd: MCP at http://%s/mcp (token: clankerd mcp token)\n", ln.Addr())
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (a *app) mcpTokenCommand() *cobra.Command {
	var rotate bool
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print the bearer token MCP HTTP clients must send (made on first use, mode 0600)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := a.mcpToken(rotate)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, t)
			return nil
		},
	}
	cmd.Flags().BoolVar(&rotate, "rotate", false, "replace the token (running servers keep the old one until restarted)")
	return cmd
}

// mcpToken reads the token, making one when there is none (or when rotating).
func (a *app) mcpToken(rotate bool) (string, error) {
	path := filepath.Join(a.stateDir, tokenFile)
	if !rotate {
		if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
			return strings.TrimSpace(string(b)), nil
		}
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	t := hex.EncodeToString(buf)
	if err := os.MkdirAll(a.stateDir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path+".tmp", []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the MCP token: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return "", err
	}
	return t, nil
}
