package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/clankerd/clankerd/checks"
)

// ChecksDocCommand regenerates docs/checks.md from the registry of a full build.
const ChecksDocCommand = "go run ./cmd/clankerd lint --list -o markdown > docs/checks.md"

// WriteMarkdown writes the catalog as the check reference, docs/checks.md: every
// check, then every task, each with its description, categories and parameters.
func (c Catalog) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Check reference\n\n")
	fmt.Fprintf(&b, "<!-- Generated from the registry; do not edit. Regenerate with `%s` (a test fails when this file is stale). -->\n\n", ChecksDocCommand)
	b.WriteString("Every check and write task of a full build of clankerd (both providers and the probes), as `clankerd lint --list` shows them. ")
	fmt.Fprintf(&b, "Every check and task also takes `timeout=<duration>` (default %gs), how long one run may take. ", checks.DefaultTimeout.Seconds())
	b.WriteString("Checks only read; a task's item queues a plan that a person approves (`clankerd approve`).\n")
	for _, section := range []struct{ title, kind string }{{"Checks", checks.KindCheck.String()}, {"Tasks", checks.KindTask.String()}} {
		fmt.Fprintf(&b, "\n## %s\n\n", section.title)
		for _, s := range c.Checks {
			if s.Kind == section.kind {
				fmt.Fprintf(&b, "- [`%s`](#%s): %s\n", s.ID, anchor(s.ID), s.Description)
			}
		}
		for _, s := range c.Checks {
			if s.Kind == section.kind {
				writeSpecMarkdown(&b, s)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeSpecMarkdown(b *strings.Builder, s Spec) {
	fmt.Fprintf(b, "\n### %s\n\n%s\n", s.ID, upperFirst(s.Description))
	if len(s.Categories) > 0 {
		fmt.Fprintf(b, "\nCategories: %s.\n", strings.Join(s.Categories, ", "))
	}
	if s.Tracks {
		b.WriteString("\nTracks changes: its findings are what was added or widened since its item's baseline ([changes.md](changes.md)).\n")
	}
	if len(s.Params) == 0 {
		b.WriteString("\nNo parameters.\n")
		return
	}
	b.WriteString("\n| parameter | type | default | what it does |\n|---|---|---|---|\n")
	for _, p := range s.Params {
		def := "`" + p.Default + "`"
		switch {
		case p.Required:
			def = "required"
		case p.Default == "":
			def = ""
		}
		doc := p.Doc
		if len(p.Choices) > 0 {
			doc += " (one of " + strings.Join(p.Choices, ", ") + ")"
		}
		if p.FrontMatter != "" {
			doc += "; front matter `" + p.FrontMatter + "` sets it for a file"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", p.Name, p.Type, cell(def), cell(doc))
	}
}

// anchor is the id of a heading as GitHub makes it: lower case, dots dropped.
func anchor(id string) string {
	return strings.NewReplacer(".", "", " ", "-").Replace(strings.ToLower(id))
}

// cell keeps a table cell's text from ending the cell or the row.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
