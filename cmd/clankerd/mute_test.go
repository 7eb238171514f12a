package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestMuteEndToEnd(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	closed := closedPort(t)
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 5 minutes\n- `tcp.connect` addr=%s timeout=2s\n", closed))

	var first checkOutput
	jsonOut(t, state, 1, &first, "check", hb)
	fp := first.Results[0].Findings[0].Fingerprint

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"mute", "--check", "tcp.connect", "--for", "1h"}, "needs a reason"},
		{[]string{"mute", "--check", "tcp.connect", "--reason", "known"}, "needs --for"},
		{[]string{"mute", "--check", "tcp.connect", "--for", "soon", "--reason", "known"}, `--for "soon"`},
		{[]string{"mute", "--for", "1h", "--reason", "known"}, "say what to mute"},
		{[]string{"mute", fp, "--check", "tcp.connect", "--for", "1h", "--reason", "known"}, "leave out --check"},
	} {
		if r := cli(t, state, tt.args...); r.code != 3 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("clankerd %v: exit %d, stderr %q; want 3 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}

	var m struct{ ID, Owner, Reason string }
	jsonOut(t, state, 0, &m, "mute", "--check", "tcp.connect", "--resource", "tcp://127.0.0.1:*", "--for", "1h", "--reason", "port closed on purpose")
	if !strings.HasPrefix(m.ID, "m-") || m.Owner == "" || m.Reason != "port closed on purpose" {
		t.Fatalf("mute = %+v", m)
	}

	// The muted finding is still recorded and listed, and check no longer fails.
	var second struct {
		Results []struct {
			Status   string
			Findings []struct {
				State   string
				MutedBy string `json:"muted_by"`
			}
		}
	}
	jsonOut(t, state, 0, &second, "check", hb)
	if r := second.Results[0]; r.Status != "fail" || len(r.Findings) != 1 || r.Findings[0].MutedBy != m.ID {
		t.Errorf("check with the finding muted = %+v", second)
	}
	var findings struct {
		Findings []struct {
			Fingerprint string
			MutedBy     string `json:"muted_by"`
		}
	}
	jsonOut(t, state, 0, &findings, "findings")
	if len(findings.Findings) != 1 || findings.Findings[0].MutedBy != m.ID {
		t.Errorf("findings = %+v", findings)
	}
	if r := cli(t, state, "findings"); !strings.Contains(r.stdout, "(muted "+m.ID+")") {
		t.Errorf("findings text does not mark the mute:\n%s", r.stdout)
	}
	if r := cli(t, state, "mutes"); r.code != 0 || !strings.Contains(r.stdout, m.ID) || !strings.Contains(r.stdout, "active") {
		t.Errorf("mutes: %+v", r)
	}

	// Unmuted, check fails again; a second unmute is refused.
	if r := cli(t, state, "unmute", m.ID); r.code != 0 {
		t.Fatalf("unmute: %+v", r)
	}
	if r := cli(t, state, "unmute", m.ID); r.code != 4 || !strings.Contains(r.stderr, "already ended") {
		t.Errorf("second unmute: %+v", r)
	}
	if r := cli(t, state, "unmute", "m-missing"); r.code != 3 {
		t.Errorf("unmute of an unknown mute: %+v", r)
	}
	var third checkOutput
	jsonOut(t, state, 1, &third, "check", hb)
	if r := cli(t, state, "mutes", "--all"); !strings.Contains(r.stdout, "lifted by") {
		t.Errorf("mutes --all: %+v", r)
	}

	// A fingerprint mute silences exactly that finding.
	if r := cli(t, state, "mute", fp, "--for", "2h", "--reason", "ticket 12"); r.code != 0 {
		t.Fatalf("mute by fingerprint: %+v", r)
	}
	jsonOut(t, state, 0, &second, "check", hb)

	var audit struct {
		Audit []struct{ Action, Subject, Actor string } `json:"audit"`
	}
	jsonOut(t, state, 0, &audit, "audit", "--limit", "0")
	var actions []string
	for _, a := range audit.Audit {
		actions = append(actions, a.Action)
	}
	if got := strings.Join(actions, ","); got != "mute.created,mute.removed,mute.created" {
		t.Errorf("audit actions = %s", got)
	}
	if r := cli(t, state, "audit", "verify"); r.code != 0 {
		t.Errorf("audit verify: %+v", r)
	}
}
