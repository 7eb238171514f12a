package view

import (
	"fmt"
	"io"
	"time"

	"github.com/clankerd/clankerd/internal/store"
)

// Mute is a mute as `clankerd mute` and `clankerd mutes` show it.
type Mute struct {
	ID          string    `json:"id"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Check       string    `json:"check,omitempty"`
	Item        string    `json:"item,omitempty"`
	Resource    string    `json:"resource,omitempty"`
	Owner       string    `json:"owner"`
	Reason      string    `json:"reason"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	EndedBy     string    `json:"ended_by,omitempty"`
}

// NewMute shapes a stored mute.
func NewMute(m store.Mute) Mute {
	return Mute{ID: m.ID, Fingerprint: m.Fingerprint, Check: m.Check, Item: m.Item, Resource: clean(m.Resource), Owner: clean(m.Owner),
		Reason: clean(m.Reason), CreatedAt: m.CreatedAt, ExpiresAt: m.ExpiresAt, EndedBy: clean(m.EndedBy)}
}

// Mutes shapes stored mutes.
func Mutes(ms []store.Mute) []Mute {
	out := make([]Mute, len(ms))
	for i, m := range ms {
		out[i] = NewMute(m)
	}
	return out
}

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
		case !now.Before(m.ExpiresAt):
			state = "expired"
		}
		t.row(m.ID, state, OneLine(m.Target(), 60), m.Owner, When(m.CreatedAt), When(m.ExpiresAt), OneLine(m.Reason, 60))
	}
	return t.flush()
}
