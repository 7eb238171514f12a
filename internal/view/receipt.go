package view

import (
	"fmt"
	"io"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
)

// Receipt is one run, or one tick that did not run, as `clankerd runs` shows it.
type Receipt struct {
	Seq       uint64        `json:"seq"`
	Item      string        `json:"item"`
	Check     string        `json:"check"`
	Pos       string        `json:"pos"`
	Trigger   store.Trigger `json:"trigger"`
	Scheduled time.Time     `json:"scheduled"`
	Started   time.Time     `json:"started"`
	Ended     time.Time     `json:"ended,omitzero"`
	Status    checks.Status `json:"status"`
	// Error is the error of an error run, or the reason of a skipped one.
	Error    string              `json:"error,omitempty"`
	Missed   int                 `json:"missed,omitempty"`
	Evidence map[string]string   `json:"evidence,omitempty"`
	Findings store.FindingCounts `json:"findings"`
	Plan     string              `json:"plan,omitempty"`
}

// NewReceipt shapes a stored receipt.
func NewReceipt(r store.Receipt) Receipt {
	return Receipt{
		Seq: r.Seq, Item: r.Item, Check: r.Check, Pos: clean(r.Pos), Trigger: r.Trigger, Scheduled: r.Scheduled,
		Started: r.Started, Ended: r.Ended, Status: r.Status, Error: clean(r.Error), Missed: r.Missed,
		Evidence: cleanMap(r.Evidence), Findings: r.Findings, Plan: r.Plan,
	}
}

// Receipts shapes stored receipts.
func Receipts(rs []store.Receipt) []Receipt {
	out := make([]Receipt, len(rs))
	for i, r := range rs {
		out[i] = NewReceipt(r)
	}
	return out
}

// WriteReceipts writes receipts as a table.
func WriteReceipts(w io.Writer, rs []Receipt) error {
	t := newTable(w, "SEQ", "SCHEDULED", "STARTED", "CHECK", "ITEM", "STATUS", "MS", "TRIGGER", "FINDINGS", "ERROR")
	for _, r := range rs {
		dur := "-"
		if !r.Ended.IsZero() {
			dur = fmt.Sprint(r.Ended.Sub(r.Started).Milliseconds())
		}
		trig := string(r.Trigger)
		if r.Missed > 0 {
			trig += fmt.Sprintf(" (+%d missed)", r.Missed)
		}
		c := r.Findings
		t.row(fmt.Sprint(r.Seq), When(r.Scheduled), When(r.Started), r.Check, r.Pos, string(r.Status), dur, trig,
			fmt.Sprintf("+%d ~%d -%d", c.New, c.Changed, c.Resolved), OneLine(r.Error, 60))
	}
	return t.flush()
}
