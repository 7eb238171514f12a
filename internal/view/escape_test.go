package view

import (
	"strings"
	"testing"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
)

func TestEscapeControls(t *testing.T) {
	for _, tc := range []struct {
		name, in, line, multi string
	}{
		{"plain", "pod api-7d9f: 12 restarts, café ✓", "pod api-7d9f: 12 restarts, café ✓", "pod api-7d9f: 12 restarts, café ✓"},
		{"clear screen and colour", "\x1b[2J\x1b[32mPASS all checks ok\x1b[0m", `\x1b[2J\x1b[32mPASS all checks ok\x1b[0m`, `\x1b[2J\x1b[32mPASS all checks ok\x1b[0m`},
		{"osc title and hyperlink", "\x1b]0;owned\x07\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\", `\x1b]0;owned\x07\x1b]8;;http://evil\x1b\x\x1b]8;;\x1b\`, `\x1b]0;owned\x07\x1b]8;;http://evil\x1b\x\x1b]8;;\x1b\`},
		{"newline and tab", "a\n\tPASS", `a\n\tPASS`, "a\n\tPASS"},
		{"carriage return", "FAIL\rPASS", `FAIL\rPASS`, `FAIL\rPASS`},
		{"C0 and DEL", "a\x00b\x08c\x7fd", `a\x00b\x08c\x7fd`, `a\x00b\x08c\x7fd`},
		{"C1 as runes", "a\u009b2Jb\u0085c", `a\u009b2Jb\u0085c`, `a\u009b2Jb\u0085c`},
		{"bidi overrides", "invoice\u202egpj.exe \u2066x\u2069", `invoice\u202egpj.exe \u2066x\u2069`, `invoice\u202egpj.exe \u2066x\u2069`},
		{"invisible format characters", "a\u200bb\ufeffc\U000E0041", `a\u200bb\ufeffc\ue0041`, `a\u200bb\ufeffc\ue0041`},
		{"line separator", "a\u2028b", `a\u2028b`, `a\u2028b`},
		{"bytes that are not UTF-8", "a\x9b2J\xffb", `a\x9b2J\xffb`, `a\x9b2J\xffb`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escapeControls(tc.in, false); got != tc.line {
				t.Errorf("one line: %q, want %q", got, tc.line)
			}
			if got := escapeControls(tc.in, true); got != tc.multi {
				t.Errorf("multiline: %q, want %q", got, tc.multi)
			}
		})
	}
}

// TestScrubLines checks the per-field decision: a one-line field cannot start a line
// of its own, a multiline one keeps its lines, and map keys are escaped too.
func TestScrubLines(t *testing.T) {
	forged := "api\n\x1b[32mPASS   all checks ok"
	fs := Findings([]store.FindingRecord{{Finding: checks.Finding{Summary: forged, Resource: forged, Evidence: map[string]string{forged: forged}}}},
		func(string) string { return forged })
	f := fs[0]
	if strings.ContainsAny(f.Summary+f.Resource, "\n\x1b") || f.Summary != `api\n\x1b[32mPASS   all checks ok` {
		t.Errorf("one-line fields: summary %q, resource %q", f.Summary, f.Resource)
	}
	for k, v := range f.Evidence {
		if strings.ContainsAny(k+v, "\n\x1b") {
			t.Errorf("evidence %q: %q", k, v)
		}
	}
	if f.Explanation != "api\n\\x1b[32mPASS   all checks ok" {
		t.Errorf("multiline explanation: %q", f.Explanation)
	}
}
