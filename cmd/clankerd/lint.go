package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/notify"
	"github.com/clankerd/clankerd/internal/view"
)

func (a *cmdline) lintCommand() *cobra.Command {
	var output string
	var list bool
	cmd := &cobra.Command{
		Use:   "lint [FILE...]",
		Short: "Validate heartbeat files and show every item's schedule and next run",
		Long: `lint parses heartbeat files (default: the daemon's default heartbeat) and lists every
item with its resolved schedule and next run time. Problems are printed as FILE:LINE:
message, and the exit code is 3. With --list it prints the catalog of checks and tasks
this build knows, with their parameters; --list -o markdown is the check reference,
docs/checks.md.`,
		ValidArgsFunction: markdownFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			provs, err := a.newProviders(false)
			if err != nil {
				return err
			}
			defer provs.Close()
			reg := provs.registry
			if list {
				return a.printCatalog(reg, output)
			}
			if output == "markdown" {
				return withCode(exitBadInput, errors.New("-o markdown is for the catalog: add --list"))
			}
			files, err := heartbeat.Load(heartbeatArgs(args), reg)
			provs.resolve(cmd.Context(), files)
			return a.printLint(files, err, output)
		},
	}
	cmd.Flags().BoolVar(&list, "list", false, "list the checks and tasks this build knows, with their parameters")
	outputFlag(cmd, &output, "text", "json", "markdown")
	return cmd
}

func markdownFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"md"}, cobra.ShellCompDirectiveFilterFileExt
}

func (a *cmdline) printLint(files []*heartbeat.File, loadErr error, output string) error {
	var problems []string
	if loadErr != nil {
		var hb heartbeat.Errors
		if !errors.As(loadErr, &hb) {
			return withCode(exitBadInput, loadErr)
		}
		for _, d := range hb {
			problems = append(problems, d.Error())
		}
	}
	for _, f := range files {
		// notify: front matter, checked without reading the variables it names (lint
		// may run where they are not set).
		var notifyErrs heartbeat.Errors
		if _, err := notify.FromHeartbeat(f, notify.Env{SkipLookup: true}); errors.As(err, &notifyErrs) {
			for _, d := range notifyErrs {
				problems = append(problems, d.Error())
			}
		}
	}
	out := view.NewLint(files, problems, time.Now())
	if output == "json" {
		if err := view.WriteJSON(a.stdout, out); err != nil {
			return err
		}
	} else {
		out.WriteText(a.stdout, a.stderr)
	}
	if !out.Valid {
		return quietExit(exitBadInput)
	}
	return nil
}

func (a *cmdline) printCatalog(reg *checks.Registry, output string) error {
	c := view.CatalogOf(reg)
	switch output {
	case "json":
		return view.WriteJSON(a.stdout, c)
	case "markdown":
		return c.WriteMarkdown(a.stdout)
	}
	c.WriteText(a.stdout)
	return nil
}
