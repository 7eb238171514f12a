package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/internal/app"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/httpx"
	"github.com/clankerd/clankerd/internal/mcpserver"
)

func (a *cmdline) mcpCommand() *cobra.Command {
	var transport, listen, authMode string
	var allowRemote bool
	var team teamFlags
	var origins []string
	var mf modelFlags
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve clankerd's tools to agents over the Model Context Protocol (stdio or HTTP)",
		Long: `mcp serves clankerd to agents: clanker_version, clanker_route_question (like ask),
clanker_run_command (one named check; a task only queues a plan), clankerd_findings,
clankerd_changes, clankerd_baselines, clankerd_plans and clankerd_propose_plan. No tool
can approve or apply a plan, or accept a change into a baseline or reset one.

--transport stdio (the default) is for an agent that starts clankerd itself.
--transport http serves streamable HTTP at /mcp on --listen, loopback only unless
--allow-remote; every request needs "Authorization: Bearer TOKEN" (the token is made
on first start, mode 0600, and printed by ` + "`clankerd mcp token`" + `), browser
origins other than loopback are refused, and so, on a loopback address, is a Host
header other than localhost, 127.0.0.1 or [::1]; bodies are limited to 1 MiB.

--auth kubernetes makes it a team server's MCP endpoint (docs/team.md): served over
HTTPS (--tls-cert, --tls-key) on any --listen address without --allow-remote, the
bearer token is a Kubernetes token checked with a
TokenReview, and each tool call needs the RBAC of the team API on clankerd.dev
(findings, plans, ...). An MCP caller never approves, rejects, mutes or accepts,
whatever RBAC grants it.

While the daemon runs, calls go through its control socket; otherwise this process
opens the state database for as long as it runs (start the daemon first if you want
both).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch transport {
			case "stdio":
				if authMode != "token" {
					return withCode(exitBadInput, fmt.Errorf("--auth %s is for --transport http", authMode))
				}
			case "http":
				if authMode != "token" && authMode != "kubernetes" {
					return withCode(exitBadInput, fmt.Errorf("--auth %q: use token or kubernetes", authMode))
				}
				// A team server (--auth kubernetes) is HTTPS, and every caller a reviewed
				// Kubernetes identity with RBAC for each tool: choosing it is the operator
				// telling us other machines may connect, as with run --listen.
				if err := httpx.CheckListen(listen, allowRemote || authMode == "kubernetes", "--listen", "--allow-remote"); err != nil {
					return withCode(exitBadInput, fmt.Errorf("%w: anyone who can reach it could call clankerd's tools", err))
				}
			default:
				return withCode(exitBadInput, fmt.Errorf("--transport %q: use stdio or http", transport))
			}
			var auth *teamAuth
			if transport == "http" && authMode == "kubernetes" {
				var err error
				if auth, err = team.load("mcp --auth kubernetes"); err != nil {
					return err
				}
			}
			provs, err := a.newProviders(false)
			if err != nil {
				return err
			}
			defer provs.Close()
			// While the daemon runs every call goes through its socket; otherwise this
			// process holds the database for as long as it serves.
			return a.withBackend(cmd.Context(), provs.registry, func(b control.Backend) error {
				actor := "mcp:" + actorName()
				svc, err := a.askService(provs, b, mf, actor)
				if err != nil {
					return err
				}
				s := &mcpserver.Server{Version: version, Ask: svc, Catalog: provs.registry, Runner: svc.Runner, Logger: a.logger}
				if transport == "http" {
					return a.serveMCPHTTP(cmd.Context(), s, listen, origins, auth)
				}
				return s.MCP().Run(cmd.Context(), &mcp.StdioTransport{})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&transport, "transport", "stdio", "stdio or http")
	f.StringVar(&listen, "listen", "127.0.0.1:39393", "address for --transport http")
	f.BoolVar(&allowRemote, "allow-remote", false, "allow a non-loopback --listen address (the token is still required)")
	f.StringSliceVar(&origins, "allow-origin", nil, "browser origin allowed besides loopback ones; repeatable")
	f.StringVar(&authMode, "auth", "token", "for --transport http: token (the state directory's bearer token) or kubernetes (Kubernetes tokens and RBAC, over HTTPS: a team server)")
	team.register(f, "--auth kubernetes")
	mf.register(cmd)
	cmd.AddCommand(a.mcpTokenCommand())
	return cmd
}

func (a *cmdline) serveMCPHTTP(ctx context.Context, s *mcpserver.Server, listen string, origins []string, team *teamAuth) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return withCode(exitErr, fmt.Errorf("listening on %s: %w", listen, err))
	}
	if team != nil {
		srv := &http.Server{Handler: s.Handler(mcpserver.HTTPOptions{Authenticator: team.authn, Authorizer: team.authz, AllowOrigins: origins}), ReadHeaderTimeout: 10 * time.Second}
		a.logger.Info("serving MCP over HTTPS to Kubernetes identities", "url", "https://"+ln.Addr().String()+"/mcp", "kubernetes", team.host)
		fmt.Fprintf(a.stderr, "clankerd: MCP at https://%s/mcp (Kubernetes tokens)\n", ln.Addr())
		return httpx.Serve(ctx, srv, tls.NewListener(ln, team.tls), 5*time.Second)
	}
	token, err := a.mcpToken(false)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: s.Handler(mcpserver.HTTPOptions{Token: token, AllowOrigins: origins}), ReadHeaderTimeout: 10 * time.Second}
	a.logger.Info("serving MCP over HTTP", "url", "http://"+ln.Addr().String()+"/mcp", "token", "see `clankerd mcp token`")
	fmt.Fprintf(a.stderr, "clankerd: MCP at http://%s/mcp (token: clankerd mcp token)\n", ln.Addr())
	return httpx.Serve(ctx, srv, ln, 5*time.Second)
}

func (a *cmdline) mcpTokenCommand() *cobra.Command {
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
func (a *cmdline) mcpToken(rotate bool) (string, error) {
	t, err := app.MCPToken(a.stateDir, rotate)
	return t, withCode(exitErr, err)
}
