package view

import (
	"fmt"
	"io"
	"time"

	"github.com/clankerd/clankerd/internal/store"
)

// Mute is a mute as `clankerd mute` and `clankerd mutes` show it: the stored mute,
// cleaned.
type Mute struct{ store.Mute }

// NewMute shapes a stored mute.
func NewMute(m store.Mute) Mute {
	v := Mute{m}
	scrub(&v)
	return v
}

// Mutes shapes stored mutes.
func Mutes(ms []store.Mute) []Mute { return each(ms, NewMute) }

// Target says what the mute matches, for people.
func (m Mute) Target() string {
	if m.Fingerprint != "" {
		return "finding " + m.Fingerprint
	}
	what := "check " + m.Check
	if m.Item != "" {
		what = "item " + m.Item
	}
	if m.Resource != "" {
		what += " on " + m.Resource
	}
	return what
}

// WriteMutes writes mutes as a table; now tells active mutes from expired ones.
func WriteMutes(w io.Writer, ms []Mute, now time.Time) error {
	if len(ms) == 0 {
		_, err := fmt.Fprintln(w, "no mutes")
		return err
	}
	t := newTable(w, "ID", "STATE", "MATCHES", "OWNER", "CREATED", "EXPIRES", "REASON")
	for _, m := range ms {
		state := "active"
		switch {
		case m.EndedBy != "":
			state = "lifted by " + m.EndedBy
		case !m.Active(now):
			state = "expired"
		}
		t.row(m.ID, state, OneLine(m.Target(), 60), m.Owner, When(m.CreatedAt), When(m.ExpiresAt), OneLine(m.Reason, 60))
	}
	return t.flush()
}
