package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/clankerd/clankerd/internal/store"
)

// Baseline is a change-tracking item's baseline as `clankerd baseline show`, the
// control API and MCP show it: the stored record, cleaned.
type Baseline struct{ store.Baseline }

// NewBaseline shapes a stored baseline.
func NewBaseline(b store.Baseline) Baseline {
	v := Baseline{b}
	scrub(&v)
	return v
}

// Baselines shapes stored baselines.
func Baselines(bs []store.Baseline) []Baseline { return each(bs, NewBaseline) }

// Change is one entry of the change log, cleaned.
type Change struct{ store.ChangeRecord }

// NewChange shapes a change record.
func NewChange(c store.ChangeRecord) Change {
	v := Change{c}
	scrub(&v)
	return v
}

// Changes shapes change records.
func Changes(cs []store.ChangeRecord) []Change { return each(cs, NewChange) }

// WriteBaselines writes each baseline: what it holds, by resource, and what is beyond
// it. full lists every fact; otherwise a baseline is summed up in a line.
func WriteBaselines(w io.Writer, bs []Baseline, full bool) error {
	if len(bs) == 0 {
		_, err := fmt.Fprintln(w, "no baselines yet: the first completed run of a change-tracking check (k8s.changes.*, aws.changes.*) records one")
		return err
	}
	if !full {
		t := newTable(w, "ITEM", "CHECK", "AT", "FACTS", "BEYOND", "RECORDED", "UPDATED")
		for _, b := range bs {
			t.row(b.Item, b.Check, b.Pos, fmt.Sprint(len(b.Facts)), fmt.Sprint(len(b.Beyond)), When(b.Recorded), When(b.Updated))
		}
		return t.flush()
	}
	for i, b := range bs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		empty := ""
		if b.Empty {
			empty = ", started empty"
		}
		fmt.Fprintf(w, "%s %s (item %s): %d facts, recorded %s%s, updated %s\n", b.Pos, b.Check, b.Item, len(b.Facts), When(b.Recorded), empty, When(b.Updated))
		writeFacts(w, "  ", b.Facts)
		if len(b.Beyond) > 0 {
			fmt.Fprintf(w, "  beyond the baseline (%d, open findings; accept with `clankerd baseline accept %s --resource GLOB --reason TEXT`):\n", len(b.Beyond), b.Check)
			writeFacts(w, "    ", b.Beyond)
		}
	}
	return nil
}

func writeFacts(w io.Writer, indent string, fs []store.BaselineFact) {
	last := ""
	for _, f := range fs {
		if f.Resource != last {
			fmt.Fprintf(w, "%s%s\n", indent, f.Resource)
			last = f.Resource
		}
		by := ""
		if f.AcceptedBy != "" {
			by = fmt.Sprintf(" (accepted by %s: %s)", f.AcceptedBy, OneLine(f.Reason, 60))
		}
		fmt.Fprintf(w, "%s  %-8s %s%s\n", indent, f.Severity, f.Key, by)
	}
}

// WriteChanges writes the change log as a table, newest first.
func WriteChanges(w io.Writer, cs []Change) error {
	if len(cs) == 0 {
		_, err := fmt.Fprintln(w, "no changes recorded")
		return err
	}
	t := newTable(w, "WHEN", "CHANGE", "SEVERITY", "RESOURCE", "WHAT", "CHECK", "BY")
	for _, c := range cs {
		what := c.Summary
		if what == "" {
			what = strings.Join(c.Facts, "; ")
		}
		by := c.Actor
		if c.Reason != "" {
			by += ": " + OneLine(c.Reason, 40)
		}
		if by == "" && c.Run != 0 {
			by = fmt.Sprintf("run %d", c.Run)
		}
		t.row(When(c.Time), string(c.Kind), string(c.Severity), c.Resource, OneLine(what, 80), c.Check, by)
	}
	return t.flush()
}
