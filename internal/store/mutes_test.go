package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMuteMatches(t *testing.T) {
	f := FindingRecord{Fingerprint: "fp1", Item: "item1", Check: "http.status"}
	f.Resource = "https://api.example.com/v1/health"
	tests := []struct {
		name string
		mute Mute
		want bool
	}{
		{"fingerprint", Mute{Fingerprint: "fp1"}, true},
		{"other fingerprint", Mute{Fingerprint: "fp2"}, false},
		{"check", Mute{Check: "http.status"}, true},
		{"other check", Mute{Check: "tcp.connect"}, false},
		{"item", Mute{Item: "item1"}, true},
		{"other item", Mute{Item: "item2"}, false},
		{"glob across slashes", Mute{Check: "http.status", Resource: "https://api.example.com/*"}, true},
		{"glob ?", Mute{Check: "http.status", Resource: "https://api.example.com/v?/health"}, true},
		{"glob anchored", Mute{Check: "http.status", Resource: "api.example.com/*"}, false},
		{"glob quotes regexp characters", Mute{Check: "http.status", Resource: "https://api.example.com/v1/health(.*)"}, false},
		{"other resource", Mute{Check: "http.status", Resource: "https://www.example.com/*"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.mute.Matches(f); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAddMuteRefusesIncompleteMutes(t *testing.T) {
	db, clk := openTest(t, Options{})
	later := clk.Now().Add(time.Hour)
	tests := []struct {
		name string
		mute Mute
		want string
	}{
		{"nothing to match", Mute{Owner: "ann", Reason: "r", ExpiresAt: later}, "say what to mute"},
		{"fingerprint and check", Mute{Fingerprint: "fp", Check: "c.d", Owner: "ann", Reason: "r", ExpiresAt: later}, "leave out --check"},
		{"no reason", Mute{Fingerprint: "fp", Owner: "ann", Reason: "  ", ExpiresAt: later}, "needs a reason"},
		{"no expiry", Mute{Fingerprint: "fp", Owner: "ann", Reason: "r"}, "needs an expiry"},
		{"expiry in the past", Mute{Fingerprint: "fp", Owner: "ann", Reason: "r", ExpiresAt: clk.Now()}, "not in the future"},
		{"no owner", Mute{Fingerprint: "fp", Reason: "r", ExpiresAt: later}, "needs an owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Update(t.Context(), func(tx *Tx) error {
				_, err := tx.AddMute(tt.mute)
				return err
			})
			if !errors.Is(err, ErrInvalidMute) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("AddMute: %v, want ErrInvalidMute saying %q", err, tt.want)
			}
		})
	}
	mustView(t, db, func(tx *Tx) error {
		ms, err := tx.Mutes(true)
		if len(ms) != 0 {
			t.Errorf("refused mutes were stored: %+v", ms)
		}
		n, err2 := tx.VerifyAudit()
		if n != 0 {
			t.Errorf("refused mutes were audited: %d records", n)
		}
		return errors.Join(err, err2)
	})
}

func TestMuteLifecycle(t *testing.T) {
	db, clk := openTest(t, Options{})
	runOnce(t, db, clk, "item1", "fail", finding("https://a.example/x", "down", "s"), finding("https://b.example/x", "down", "s"))
	mutedResources := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		mustView(t, db, func(tx *Tx) error {
			fs, err := tx.Findings(FindingFilter{})
			for _, f := range fs {
				out[f.Resource] = f.MutedBy
			}
			return err
		})
		return out
	}

	var m Mute
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		m, err = tx.AddMute(Mute{Check: "test.check", Resource: "https://a.*", Owner: "ann", Reason: "maintenance", ExpiresAt: clk.Now().Add(2 * time.Hour)})
		return err
	})
	if !strings.HasPrefix(m.ID, "m-") || !m.CreatedAt.Equal(clk.Now()) {
		t.Errorf("mute = %+v", m)
	}
	if got := mutedResources(); got["https://a.example/x"] != m.ID || got["https://b.example/x"] != "" {
		t.Errorf("muted = %v, want only a.example muted by %s", got, m.ID)
	}

	// A muted finding is still recorded: the next run sees it unchanged.
	if _, changes := runOnce(t, db, clk, "item1", "fail", finding("https://a.example/x", "down", "s"), finding("https://b.example/x", "down", "s")); len(changes) != 0 {
		t.Errorf("changes = %+v", changes)
	}

	// The mute expires: the finding is no longer marked, and the mute is listed only
	// with all.
	clk.Advance(2 * time.Hour)
	if got := mutedResources(); got["https://a.example/x"] != "" {
		t.Errorf("an expired mute still marks: %v", got)
	}
	mustView(t, db, func(tx *Tx) error {
		active, err := tx.Mutes(false)
		all, err2 := tx.Mutes(true)
		if len(active) != 0 || len(all) != 1 {
			t.Errorf("active %d, all %d mutes after expiry", len(active), len(all))
		}
		return errors.Join(err, err2)
	})

	// Unmute lifts a mute early, once.
	var m2 Mute
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		m2, err = tx.AddMute(Mute{Fingerprint: "whatever", Owner: "ann", Reason: "r", ExpiresAt: clk.Now().Add(time.Hour)})
		return err
	})
	clk.Advance(time.Minute)
	mustUpdate(t, db, func(tx *Tx) error {
		got, err := tx.Unmute(m2.ID, "bob")
		if got.EndedBy != "bob" || !got.ExpiresAt.Equal(clk.Now()) || got.Active(clk.Now()) {
			t.Errorf("unmuted = %+v", got)
		}
		return err
	})
	for _, id := range []string{m2.ID, m.ID} {
		err := db.Update(t.Context(), func(tx *Tx) error { _, err := tx.Unmute(id, "bob"); return err })
		if !errors.Is(err, ErrMuteEnded) {
			t.Errorf("unmute of ended %s: %v, want ErrMuteEnded", id, err)
		}
	}
	err := db.Update(t.Context(), func(tx *Tx) error { _, err := tx.Unmute("m-nope", "bob"); return err })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unmute of a missing mute: %v", err)
	}

	// Every change is in the audit chain.
	mustView(t, db, func(tx *Tx) error {
		recs, err := tx.AuditLog(AuditFilter{})
		var got []string
		for _, r := range recs {
			got = append(got, r.Actor+" "+r.Action+" "+r.Subject)
		}
		want := []string{"ann mute.created " + m.ID, "ann mute.created " + m2.ID, "bob mute.removed " + m2.ID}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("audit = %v, want %v", got, want)
		}
		if recs[0].Detail["reason"] != "maintenance" || recs[0].Detail["resource"] != "https://a.*" {
			t.Errorf("audit detail = %v", recs[0].Detail)
		}
		_, verr := tx.VerifyAudit()
		return errors.Join(err, verr)
	})
}

func TestMutedByIsNotStored(t *testing.T) {
	db, clk := openTest(t, Options{})
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.AddMute(Mute{Check: "test.check", Owner: "ann", Reason: "r", ExpiresAt: clk.Now().Add(time.Hour)})
		return err
	})
	runOnce(t, db, clk, "item1", "fail", finding("r1", "p", "s"))
	mustView(t, db, func(tx *Tx) error {
		raw := tx.bucket(bucketFindings).Stats().KeyN
		var found bool
		return errors.Join(tx.bucket(bucketFindings).ForEach(func(k, v []byte) error {
			found = true
			if strings.Contains(string(v), "muted_by") {
				t.Errorf("stored finding carries muted_by: %s", v)
			}
			return nil
		}), func() error {
			if !found || raw != 1 {
				t.Errorf("%d findings stored", raw)
			}
			return nil
		}())
	})
}
