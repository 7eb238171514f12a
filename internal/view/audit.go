package view

import (
	"fmt"
	"io"

	"github.com/clankerd/clankerd/internal/store"
)

// AuditRecord is an audit log record as `clankerd audit` shows it: the stored record,
// cleaned. The hash chain is verified over the stored records; this is how they read.
type AuditRecord struct{ store.AuditRecord }

// AuditRecords shapes stored audit records.
func AuditRecords(rs []store.AuditRecord) []AuditRecord {
	return each(rs, func(r store.AuditRecord) AuditRecord {
		v := AuditRecord{r}
		scrub(&v)
		return v
	})
}

// WriteAudit writes audit records as a table.
func WriteAudit(w io.Writer, rs []AuditRecord) error {
	t := newTable(w, "SEQ", "TIME", "ACTOR", "ACTION", "SUBJECT", "DETAIL")
	for _, r := range rs {
		t.row(fmt.Sprint(r.Seq), When(r.Time), r.Actor, r.Action, r.Subject, OneLine(pairs(r.Detail), 100))
	}
	return t.flush()
}
