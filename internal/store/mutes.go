package store

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ErrInvalidMute: a mute without a reason, an expiry in the future, or something to
// match. The message says which.
var ErrInvalidMute = errors.New("invalid mute")

// ErrMuteEnded: unmute of a mute that has already expired or been lifted.
var ErrMuteEnded = errors.New("mute has already ended")

// Mute silences matching findings until it expires: they are still recorded and
// listed (with MutedBy set) but are not notified and do not fail `clankerd check`.
// Whether a mute is active follows from its expiry and is never stored.
type Mute struct {
	ID string `json:"id"`
	// Fingerprint matches one finding. Otherwise Check (a check id) or Item (an item
	// key) matches the findings of that check or item, narrowed by Resource, a glob in
	// which * matches any run of characters and ? one character.
	Fingerprint string    `json:"fingerprint,omitempty"`
	Check       string    `json:"check,omitempty"`
	Item        string    `json:"item,omitempty"`
	Resource    string    `json:"resource,omitempty"`
	Owner       string    `json:"owner"`
	Reason      string    `json:"reason"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	// EndedBy is who lifted the mute before it expired; ExpiresAt is then when.
	EndedBy string `json:"ended_by,omitempty"`
}

// Active reports whether the mute silences findings at now.
func (m Mute) Active(now time.Time) bool { return now.Before(m.ExpiresAt) }

// Matches reports whether the mute's selector matches the finding (whatever the time).
func (m Mute) Matches(f FindingRecord) bool {
	if m.Fingerprint != "" {
		return f.Fingerprint == m.Fingerprint
	}
	if m.Check != "" && f.Check != m.Check || m.Item != "" && f.Item != m.Item {
		return false
	}
	return m.Resource == "" || globMatch(m.Resource, f.Resource)
}

// globMatch matches s against a glob where * is any run of characters (slashes
// included, so "https://api.example.com/*" matches every path) and ? is one.
func globMatch(glob, s string) bool {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()).MatchString(s)
}

func (m Mute) validate(now time.Time) error {
	switch {
	case m.Fingerprint == "" && m.Check == "" && m.Item == "":
		return fmt.Errorf("%w: say what to mute: a finding's fingerprint, or --check ID (with --resource GLOB to narrow it)", ErrInvalidMute)
	case m.Fingerprint != "" && (m.Check != "" || m.Item != "" || m.Resource != ""):
		return fmt.Errorf("%w: a fingerprint names one finding; leave out --check and --resource", ErrInvalidMute)
	case strings.TrimSpace(m.Reason) == "":
		return fmt.Errorf("%w: a mute needs a reason (--reason \"why\"), so others know why they do not hear about it", ErrInvalidMute)
	case m.ExpiresAt.IsZero():
		return fmt.Errorf("%w: a mute needs an expiry (--for 7d); mutes do not last forever", ErrInvalidMute)
	case !m.ExpiresAt.After(now):
		return fmt.Errorf("%w: the expiry %s is not in the future", ErrInvalidMute, m.ExpiresAt.Format(time.RFC3339))
	case strings.TrimSpace(m.Owner) == "":
		return fmt.Errorf("%w: a mute needs an owner", ErrInvalidMute)
	}
	return nil
}

// AddMute stores a new mute and audits it as created by its owner. CreatedAt is set
// to now and the id is assigned.
func (tx *Tx) AddMute(m Mute) (Mute, error) {
	now := tx.now()
	if err := m.validate(now); err != nil {
		return Mute{}, err
	}
	m.ID, m.CreatedAt, m.EndedBy = "m-"+tx.db.newID(), now, ""
	m.ExpiresAt = m.ExpiresAt.UTC()
	if err := tx.put(bucketMutes, []byte(m.ID), m); err != nil {
		return Mute{}, err
	}
	tx.mutesRead = false
	err := tx.Audit(m.Owner, "mute.created", m.ID, muteDetail(m))
	return m, err
}

// Unmute lifts an active mute now, and audits it as ended by actor.
func (tx *Tx) Unmute(id, actor string) (Mute, error) {
	var m Mute
	found, err := tx.get(bucketMutes, []byte(id), &m)
	if err != nil {
		return Mute{}, err
	}
	if !found {
		return Mute{}, fmt.Errorf("mute %q: %w; list mutes with `clankerd mutes --all`", id, ErrNotFound)
	}
	now := tx.now()
	if !m.Active(now) {
		return m, fmt.Errorf("mute %s: %w (at %s)", id, ErrMuteEnded, m.ExpiresAt.Format(time.RFC3339))
	}
	m.ExpiresAt, m.EndedBy = now, actor
	if err := tx.put(bucketMutes, []byte(m.ID), m); err != nil {
		return Mute{}, err
	}
	tx.mutesRead = false
	err = tx.Audit(actor, "mute.removed", m.ID, muteDetail(m))
	return m, err
}

func muteDetail(m Mute) map[string]string {
	d := map[string]string{"reason": m.Reason, "owner": m.Owner, "expires": m.ExpiresAt.Format(time.RFC3339)}
	for k, v := range map[string]string{"fingerprint": m.Fingerprint, "check": m.Check, "item": m.Item, "resource": m.Resource} {
		if v != "" {
			d[k] = v
		}
	}
	return d
}

// Mutes returns the mutes, oldest first: only those active now unless all is set.
func (tx *Tx) Mutes(all bool) ([]Mute, error) {
	now := tx.now()
	var out []Mute
	err := tx.bucket(bucketMutes).ForEach(func(k, v []byte) error {
		var m Mute
		if err := tx.decode(bucketMutes, k, v, &m); err != nil {
			return err
		}
		if all || m.Active(now) {
			out = append(out, m)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Mute) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID)) })
	return out, err
}

// markMuted sets f.MutedBy to the id of the first active mute that matches it, or
// clears it. It is the one place findings are matched against mutes; the active mutes
// are read once per transaction.
func (tx *Tx) markMuted(f *FindingRecord) error {
	if !tx.mutesRead {
		mutes, err := tx.Mutes(false)
		if err != nil {
			return err
		}
		tx.mutes, tx.mutesRead = mutes, true
	}
	f.MutedBy = ""
	now := tx.now()
	for _, m := range tx.mutes {
		if m.Active(now) && m.Matches(*f) {
			f.MutedBy = m.ID
			break
		}
	}
	return nil
}

// markAllMuted is markMuted for each finding.
func (tx *Tx) markAllMuted(fs []FindingRecord) error {
	for i := range fs {
		if err := tx.markMuted(&fs[i]); err != nil {
			return err
		}
	}
	return nil
}

// randomID is 8 random bytes in hex.
func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
