package view

import (
	"fmt"
	"io"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
)

// Lint is what `clankerd lint` shows: every item of the files with its schedule and
// next run, the files' notices and their problems as FILE:LINE: message.
type Lint struct {
	Valid   bool       `json:"valid"`
	Files   []LintFile `json:"files"`
	Errors  []string   `json:"errors"`
	Notices []string   `json:"notices"`
}

// LintFile is one heartbeat file as lint shows it.
type LintFile struct {
	Path        string     `json:"path"`
	Title       string     `json:"title,omitempty"`
	Timezone    string     `json:"timezone"`
	ActiveHours string     `json:"active_hours,omitempty"`
	Items       []LintItem `json:"items"`
}

// LintItem is one item as lint shows it.
type LintItem struct {
	Item  string `json:"item"`
	Key   string `json:"key"`
	Kind  string `json:"kind"`
	Check string `json:"check,omitempty"`
	// Text is a question, or the question a check item was routed from.
	Text         string            `json:"text,omitempty"`
	Params       map[string]string `json:"params,omitempty"`
	Section      string            `json:"section,omitempty"`
	Schedule     string            `json:"schedule"`
	ScheduleSpec string            `json:"schedule_spec"`
	Next         time.Time         `json:"next,omitzero"`
	// identity is the parameters as the heartbeat writes them.
	identity string
}

// NewLint shapes parsed files and the problems found in them; now is the time the
// next runs are counted from.
func NewLint(files []*heartbeat.File, problems []string, now time.Time) Lint {
	out := Lint{Valid: len(problems) == 0, Files: []LintFile{}, Errors: problems, Notices: []string{}}
	if out.Errors == nil {
		out.Errors = []string{}
	}
	for _, f := range files {
		lf := LintFile{Path: f.Path, Title: f.Title, Timezone: f.Location.String(), Items: []LintItem{}}
		if f.ActiveHours != nil {
			lf.ActiveHours = f.ActiveHours.String()
		}
		for _, it := range f.Items {
			li := LintItem{
				Item: it.Pos(), Key: it.Key, Kind: it.Kind.String(), Check: it.ID, Section: it.Section,
				Schedule: it.Schedule.Text, ScheduleSpec: it.Schedule.Spec,
			}
			if it.Kind == heartbeat.ItemQuestion || it.Routed {
				li.Text = it.Text
			}
			if it.Kind != heartbeat.ItemQuestion {
				li.Params, li.identity = it.Params.Values(), cleanLine(it.Params.Identity())
				li.Next = it.Schedule.Next(now)
			}
			lf.Items = append(lf.Items, li)
		}
		for _, n := range f.Notices {
			out.Notices = append(out.Notices, n.Error())
		}
		out.Files = append(out.Files, lf)
	}
	scrub(&out)
	return out
}

// WriteText writes the items of each file as a table and the notices to stdout, and
// the problems to stderr.
func (l Lint) WriteText(stdout, stderr io.Writer) {
	for _, f := range l.Files {
		zone := f.Timezone
		if f.ActiveHours != "" {
			zone += ", active " + f.ActiveHours
		}
		fmt.Fprintf(stdout, "%s (%s): %d items\n", f.Path, zone, len(f.Items))
		t := newTable(stdout, "  ITEM", "KIND", "CHECK", "SCHEDULE", "NEXT RUN")
		for _, it := range f.Items {
			what, next := it.Check, "-"
			if it.Kind == heartbeat.ItemQuestion.String() {
				what = fmt.Sprintf("%q", OneLine(it.Text, 40))
			} else {
				if it.identity != "" {
					what += " " + OneLine(it.identity, 60)
				}
				if it.Text != "" {
					what = fmt.Sprintf("%q → %s", OneLine(it.Text, 40), what)
				}
				next = When(it.Next)
			}
			t.row("  "+it.Item, it.Kind, what, fmt.Sprintf("%s (%s)", it.Schedule, it.ScheduleSpec), next)
		}
		_ = t.flush()
	}
	for _, n := range l.Notices {
		fmt.Fprintln(stdout, "note:", n)
	}
	for _, e := range l.Errors {
		fmt.Fprintln(stderr, e)
	}
	switch {
	case l.Valid:
		fmt.Fprintln(stdout, "valid")
	case len(l.Files) > 0:
		fmt.Fprintf(stderr, "%d problem(s) in notification targets; the daemon leaves those targets out\n", len(l.Errors))
	default:
		fmt.Fprintf(stderr, "%d problem(s); the file(s) above were not loaded\n", len(l.Errors))
	}
}

// Spec is a check or task of the catalog, with its parameters.
type Spec struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`
	Description string   `json:"description"`
	Categories  []string `json:"categories,omitempty"`
	// Tracks marks a change-tracking check: its findings are what changed since its
	// item's baseline.
	Tracks bool    `json:"tracks_changes,omitempty"`
	Params []Param `json:"params"`
}

// Param is one parameter of a check or task.
type Param struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Required    bool     `json:"required,omitempty"`
	Default     string   `json:"default,omitempty"`
	Choices     []string `json:"choices,omitempty"`
	FrontMatter string   `json:"front_matter,omitempty"`
	Doc         string   `json:"doc,omitempty"`
}

// Catalog is what `clankerd lint --list` shows: every check and task of the build.
type Catalog struct {
	Checks []Spec `json:"checks"`
}

// CatalogOf is the catalog of the registry's checks and tasks.
func CatalogOf(reg *checks.Registry) Catalog {
	var out Catalog
	for _, s := range reg.Specs() {
		_, kind, _ := reg.Lookup(s.ID)
		sp := Spec{ID: s.ID, Kind: kind.String(), Description: s.Description, Categories: s.Categories, Tracks: s.Tracks}
		for _, p := range s.Params {
			sp.Params = append(sp.Params, Param{Name: p.Name, Type: p.Type.String(), Required: p.Required, Default: p.Default, Choices: p.Choices, FrontMatter: p.FrontMatter, Doc: p.Doc})
		}
		out.Checks = append(out.Checks, sp)
	}
	scrub(&out)
	return out
}

// WriteText writes the catalog, one check with its parameters at a time.
func (c Catalog) WriteText(w io.Writer) {
	for _, s := range c.Checks {
		fmt.Fprintf(w, "%s (%s): %s\n", s.ID, s.Kind, s.Description)
		for _, p := range s.Params {
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
	fmt.Fprintf(w, "every check and task also takes timeout=<duration> (default %gs)\n", checks.DefaultTimeout.Seconds())
}
