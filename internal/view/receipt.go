package view

import (
	"fmt"
	"io"

	"github.com/clankerd/clankerd/internal/store"
)

// Receipt is one run, or one tick that did not run, as `clankerd runs` shows it: the
// stored receipt, cleaned.
type Receipt struct{ store.Receipt }

// Receipts shapes stored receipts.
func Receipts(rs []store.Receipt) []Receipt {
	return each(rs, func(r store.Receipt) Receipt {
		v := Receipt{r}
		scrub(&v)
		return v
	})
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
