package view

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/scan"
)

// ScanSummary is what `clankerd scan` adds below the results in text: the open
// findings counted by severity and by category, and the checks the scan left out.
type ScanSummary struct {
	BySeverity map[checks.Severity]int `json:"by_severity"`
	// ByCategory counts a finding once in each category of its check.
	ByCategory map[string]int `json:"by_category"`
	NotScanned []NotScanned   `json:"not_scanned,omitempty"`
}

// NotScanned is a check a scan leaves out, and why (a parameter only a heartbeat
// can give).
type NotScanned struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// NewScanSummary counts the open findings of the results by severity and by the
// categories specs gives their checks, and lists the checks the scan left out.
func NewScanSummary(rs Results, specs SpecLookup, left []scan.Left) ScanSummary {
	out := ScanSummary{BySeverity: map[checks.Severity]int{}, ByCategory: map[string]int{}}
	for _, l := range left {
		out.NotScanned = append(out.NotScanned, NotScanned{Check: l.Check, Reason: l.Reason})
	}
	for _, r := range rs.Results {
		var categories []string
		if s, _, ok := specs.Lookup(r.Check); ok {
			categories = s.Categories
		}
		for _, f := range r.Findings {
			if !f.State.Open() {
				continue
			}
			out.BySeverity[f.Severity]++
			for _, c := range categories {
				out.ByCategory[c]++
			}
		}
	}
	scrub(&out)
	return out
}

// WriteText writes the counts on two lines, most severe first, then the checks left
// out.
func (s ScanSummary) WriteText(w io.Writer) {
	var sev []string
	for _, v := range []checks.Severity{checks.Critical, checks.High, checks.Medium, checks.Low, checks.Info} {
		if n := s.BySeverity[v]; n > 0 {
			sev = append(sev, fmt.Sprintf("%d %s", n, v))
		}
	}
	if len(sev) == 0 {
		fmt.Fprintln(w, "open findings: none")
	} else {
		fmt.Fprintln(w, "open findings by severity:", strings.Join(sev, ", "))
	}
	var cat []string
	for _, c := range slices.Sorted(maps.Keys(s.ByCategory)) {
		cat = append(cat, fmt.Sprintf("%s %d", c, s.ByCategory[c]))
	}
	if len(cat) > 0 {
		fmt.Fprintln(w, "open findings by category:", strings.Join(cat, ", "))
	}
	for _, n := range s.NotScanned {
		fmt.Fprintf(w, "not scanned: %s (%s)\n", n.Check, n.Reason)
	}
}

// Progress is the line a long scan keeps on a terminal ("scanning: 7/24 checks"):
// shown once the scan has taken longer than a delay, updated at every finished check,
// and erased when the scan ends. Its methods are safe for concurrent use.
type Progress struct {
	mu     sync.Mutex
	w      io.Writer
	total  int
	done   int
	shown  bool
	closed bool
	timer  *time.Timer
}

// StartProgress starts counting total checks; nothing is written to w before delay
// has passed, and nothing at all when w is nil (stderr is not a terminal).
func StartProgress(w io.Writer, total int, delay time.Duration) *Progress {
	p := &Progress{w: w, total: total}
	if w == nil {
		p.closed = true
		return p
	}
	p.timer = time.AfterFunc(delay, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.closed {
			p.shown = true
			p.write()
		}
	})
	return p
}

// Step counts one finished check.
func (p *Progress) Step() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if p.shown && !p.closed {
		p.write()
	}
}

// Stop erases the line, if it was shown; later steps write nothing. It is safe to
// call twice.
func (p *Progress) Stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown && !p.closed {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	p.closed = true
}

func (p *Progress) write() {
	fmt.Fprintf(p.w, "\rscanning: %d/%d checks", p.done, p.total)
}
