// Package view is the one place that shapes what people, agents and notification
// receivers see: the finding, plan, receipt, result, answer, status and notification
// of clankerd's outputs are each declared here once, and every text in them is
// redacted (internal/redact) and stripped of terminal control characters when it is
// built. CLI text and JSON, the MCP tools and the notification targets all print these
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

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/redact"
)

// clean makes text from a check, a remote server, a model or an agent safe to show:
// secrets redacted, control characters (terminal escape sequences among them) removed;
// newlines and tabs are kept.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
	return redact.String(s)
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
