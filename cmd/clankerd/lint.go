package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/notify"
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
this build knows, with their parameters.`,
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
			files, err := heartbeat.Load(heartbeatArgs(args), reg)
			provs.resolve(cmd.Context(), files)
			return a.printLint(files, err, output)
		},
	}
	cmd.Flags().BoolVar(&list, "list", false, "list the checks and tasks this build knows, with their parameters")
	outputFlag(cmd, &output, "text", "json")
	return cmd
}

func markdownFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"md"}, cobra.ShellCompDirectiveFilterFileExt
}

type lintItemJSON struct {
	Item         string            `json:"item"`
	Key          string            `json:"key"`
	Kind         string            `json:"kind"`
	Check        string            `json:"check,omitempty"`
	Text         string            `json:"text,omitempty"`
	Params       map[string]string `json:"params,omitempty"`
	Section      string            `json:"section,omitempty"`
	Schedule     string            `json:"schedule"`
	ScheduleSpec string            `json:"schedule_spec"`
	Next         time.Time         `json:"next,omitzero"`
}

type lintFileJSON struct {
	Path        string         `json:"path"`
	Title       string         `json:"title,omitempty"`
	Timezone    string         `json:"timezone"`
	ActiveHours string         `json:"active_hours,omitempty"`
	Items       []lintItemJSON `json:"items"`
}

type lintJSON struct {
	Valid   bool           `json:"valid"`
	Files   []lintFileJSON `json:"files"`
	Errors  []string       `json:"errors"`
	Notices []string       `json:"notices"`
}

func (a *cmdline) printLint(files []*heartbeat.File, loadErr error, output string) error {
	now := time.Now()
	out := lintJSON{Valid: loadErr == nil, Errors: []string{}, Notices: []string{}}
	if loadErr != nil {
		var hb heartbeat.Errors
		if !errors.As(loadErr, &hb) {
			return withCode(exitBadInput, loadErr)
		}
		for _, d := range hb {
			out.Errors = append(out.Errors, d.Error())
		}
	}
	for _, f := range files {
		fj := lintFileJSON{Path: f.Path, Title: f.Title, Timezone: f.Location.String(), Items: []lintItemJSON{}}
		if f.ActiveHours != nil {
			fj.ActiveHours = f.ActiveHours.String()
		}
		for _, it := range f.Items {
			ij := lintItemJSON{
				Item: it.Pos(), Key: it.Key, Kind: it.Kind.String(), Check: it.ID, Section: it.Section,
				Schedule: it.Schedule.Text, ScheduleSpec: it.Schedule.Spec,
			}
			if it.Kind == heartbeat.ItemQuestion || it.Routed {
				ij.Text = it.Text // a question, or the question a check item was routed from
			}
			if it.Kind != heartbeat.ItemQuestion {
				ij.Params = it.Params.Values()
				ij.Next = it.Schedule.Next(now)
			}
			fj.Items = append(fj.Items, ij)
		}
		for _, n := range f.Notices {
			out.Notices = append(out.Notices, n.Error())
		}
		// notify: front matter, checked without reading the variables it names (lint
		// may run where they are not set).
		var notifyErrs heartbeat.Errors
		if _, err := notify.FromHeartbeat(f, notify.Env{SkipLookup: true}); errors.As(err, &notifyErrs) {
			for _, d := range notifyErrs {
				out.Errors = append(out.Errors, d.Error())
			}
			out.Valid = false
		}
		out.Files = append(out.Files, fj)
	}
	if output == "json" {
		if err := printJSON(a.stdout, out); err != nil {
			return err
		}
	} else {
		a.printLintText(files, out, now)
	}
	if !out.Valid {
		return quietExit(exitBadInput)
	}
	return nil
}

func (a *cmdline) printLintText(files []*heartbeat.File, out lintJSON, now time.Time) {
	for _, f := range files {
		zone := f.Location.String()
		if f.ActiveHours != nil {
			zone += ", active " + f.ActiveHours.String()
		}
		fmt.Fprintf(a.stdout, "%s (%s): %d items\n", f.Path, zone, len(f.Items))
		t := newTable(a.stdout, "  ITEM", "KIND", "CHECK", "SCHEDULE", "NEXT RUN")
		for _, it := range f.Items {
			what, next := it.ID, "-"
			if it.Kind == heartbeat.ItemQuestion {
				what = fmt.Sprintf("%q", oneLine(it.Text, 40))
			} else {
				if p := it.Params.Identity(); p != "" {
					what += " " + oneLine(p, 60)
				}
				if it.Routed {
					what = fmt.Sprintf("%q → %s", oneLine(it.Text, 40), what)
				}
				next = when(it.Schedule.Next(now))
			}
			t.row("  "+it.Pos(), it.Kind.String(), what, fmt.Sprintf("%s (%s)", it.Schedule.Text, it.Schedule.Spec), next)
		}
		_ = t.flush()
	}
	for _, n := range out.Notices {
		fmt.Fprintln(a.stdout, "note:", n)
	}
	for _, e := range out.Errors {
		fmt.Fprintln(a.stderr, e)
	}
	if out.Valid {
		fmt.Fprintln(a.stdout, "valid")
	} else if len(files) > 0 {
		fmt.Fprintf(a.stderr, "%d problem(s) in notification targets; the daemon leaves those targets out\n", len(out.Errors))
	} else {
		fmt.Fprintf(a.stderr, "%d problem(s); the file(s) above were not loaded\n", len(out.Errors))
	}
}

type specJSON struct {
	ID          string      `json:"id"`
	Kind        string      `json:"kind"`
	Description string      `json:"description"`
	Params      []paramJSON `json:"params"`
}

type paramJSON struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Required    bool     `json:"required,omitempty"`
	Default     string   `json:"default,omitempty"`
	Choices     []string `json:"choices,omitempty"`
	FrontMatter string   `json:"front_matter,omitempty"`
	Doc         string   `json:"doc,omitempty"`
}

func (a *cmdline) printCatalog(reg *checks.Registry, output string) error {
	var specs []specJSON
	for _, s := range reg.Specs() {
		_, kind, _ := reg.Lookup(s.ID)
		sj := specJSON{ID: s.ID, Kind: kind.String(), Description: s.Description}
		for _, p := range s.Params {
			sj.Params = append(sj.Params, paramJSON{Name: p.Name, Type: p.Type.String(), Required: p.Required, Default: p.Default, Choices: p.Choices, FrontMatter: p.FrontMatter, Doc: p.Doc})
		}
		specs = append(specs, sj)
	}
	if output == "json" {
		return printJSON(a.stdout, map[string]any{"checks": specs})
	}
	for _, s := range specs {
		fmt.Fprintf(a.stdout, "%s (%s): %s\n", s.ID, s.Kind, s.Description)
		printParams(a.stdout, s.Params)
	}
	fmt.Fprintln(a.stdout, "every check and task also takes timeout=<duration> (default 60s)")
	return nil
}

func printParams(w io.Writer, ps []paramJSON) {
	for _, p := range ps {
		req := ""
		if p.Required {
			req = ", required"
		}
		if p.Default != "" {
			req += ", default " + p.Default
		}
		fmt.Fprintf(w, "    %s=<%s>%s: %s\n", p.Name, p.Type, req, p.Doc)
	}
}
