package view

import (
	"fmt"
	"io"
	"time"

	"github.com/clankerd/clankerd/internal/store"
)

// AuditRecord is an audit log record as `clankerd audit` shows it. The hash chain is
// verified over the stored records; this is only how they read.
type AuditRecord struct {
	Seq     uint64            `json:"seq"`
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Subject string            `json:"subject"`
	Detail  map[string]string `json:"detail,omitempty"`
	Prev    string            `json:"prev"`
	Hash    string            `json:"hash"`
}

// AuditRecords shapes stored audit records.
func AuditRecords(rs []store.AuditRecord) []AuditRecord {
	out := make([]AuditRecord, len(rs))
	for i, r := range rs {
		out[i] = AuditRecord{Seq: r.Seq, Time: r.Time, Actor: clean(r.Actor), Action: r.Action, Subject: clean(r.Subject),
			Detail: cleanMap(r.Detail), Prev: r.Prev, Hash: r.Hash}
	}
	return out
}

// WriteAudit writes audit records as a table.
func WriteAudit(w io.Writer, rs []AuditRecord) error {
	t := newTable(w, "SEQ", "TIME", "ACTOR", "ACTION", "SUBJECT", "DETAIL")
	for _, r := range rs {
		t.row(fmt.Sprint(r.Seq), When(r.Time), r.Actor, r.Action, r.Subject, OneLine(pairs(r.Detail), 100))
	}
	return t.flush()
}
