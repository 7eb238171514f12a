// Package view is the one place that shapes what people, agents and notification
// receivers see: the finding, plan, receipt, result, answer, status and notification
// of clankerd's outputs are each declared here once, and every text in them is
// redacted (internal/redact) and its control characters escaped when it is built. CLI text and JSON, the MCP tools and the notification targets all print these
// types, so no surface can show what another hides.
package view

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/redact"
)

// clean makes text from a check, a remote server, a model or an agent safe to show
// where it may span lines (an error, an explanation, an answer): secrets redacted,
// then control characters escaped (escapeControls), newlines and tabs kept.
func clean(s string) string { return escapeControls(redact.String(s), true) }

// cleanLine is clean for a one-line field (a name, a summary, a parameter): newlines,
// carriage returns and tabs are escaped too, so that remote text cannot start a line
// of its own in a table or a result.
func cleanLine(s string) string { return escapeControls(redact.String(s), false) }

// escapeControls writes every character a terminal, a chat client or a model would act
// on or not show as a visible escape, so that text cannot clear a screen, move the
// cursor, recolour or hide what follows, reorder a line (bidi overrides) or smuggle
// invisible instructions (tag characters), and the operator sees that it tried:
// C0 controls and DEL as \x1b, C1 controls and Unicode format, line and paragraph
// separator characters as \u202e, bytes that are not UTF-8 as \xff. multiline keeps
// newlines and tabs; a carriage return is always escaped, since it overwrites a line.
func escapeControls(s string, multiline bool) string {
	shown := func(r rune, size int) bool { return (r != utf8.RuneError || size > 1) && visible(r, multiline) }
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !shown(r, size) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case shown(r, size):
			b.WriteString(s[i : i+size])
		case r == utf8.RuneError:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// visible reports whether r is shown as itself.
func visible(r rune, multiline bool) bool {
	switch {
	case r == '\n' || r == '\t':
		return multiline
	case unicode.IsControl(r):
		return false
	}
	return !unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// each shapes every record of a list with one constructor.
func each[T, V any](records []T, shape func(T) V) []V {
	out := make([]V, len(records))
	for i, r := range records {
		out[i] = shape(r)
	}
	return out
}

// Redact is clean for callers that show a text of their own (an error message).
func Redact(s string) string { return clean(s) }

// WriteJSON writes v as indented JSON, the form of every `-o json` output.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cols ...string) { fmt.Fprintln(t.tw, strings.Join(cols, "\t")) }
func (t *table) flush() error       { return t.tw.Flush() }

// When formats a time for tables: local, second precision, "-" when zero.
func When(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// OneLine keeps table cells on one line and bounded.
func OneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); max > 0 && len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// pairs renders a map as sorted key=value pairs.
func pairs(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

// paramText renders parameters as the heartbeat writes them: sorted name=value pairs,
// values quoted where they need it.
func paramText(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+checks.QuoteValue(m[k]))
	}
	return strings.Join(parts, " ")
}

// indent puts every line after the first at the prefix.
func indent(s, prefix string) string { return strings.ReplaceAll(s, "\n", "\n"+prefix) }
