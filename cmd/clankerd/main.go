// Command clankerd is a local-first infrastructure monitor and change gate: it runs the
// checks of HEARTBEAT.md files once (check) or on their schedules (run), keeps a
// history of findings, and applies writes only through plans a person approves.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the exit, so tests can call it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	a := &cmdline{stdin: stdin, stdout: stdout, stderr: stderr, reload: hup}
	root := a.rootCommand()
	root.SetArgs(args)
	return a.exitCode(root.ExecuteContext(ctx))
}
