package view

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
)

func TestHeadlines(t *testing.T) {
	exp := time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ev   store.OutboxEvent
		want string
		cmds string
	}{
		{"starts erroring", store.OutboxEvent{Kind: store.EventRun, Item: "k", Check: "tcp.connect", Pos: "HB.md:2", Erroring: store.ErroringStarted, Error: "no route"},
			"tcp.connect (HB.md:2) cannot run: it started erroring", "clankerd runs --check k"},
		{"stops erroring", store.OutboxEvent{Kind: store.EventRun, Item: "k", Check: "tcp.connect", Pos: "HB.md:2", Erroring: store.ErroringStopped},
			"tcp.connect (HB.md:2) runs again: it stopped erroring", "clankerd runs --check k"},
		{"plan", store.OutboxEvent{Kind: store.EventPlan, Item: "k", Plan: &store.PlanNotice{ID: "p-1", Task: "k8s.deployment.scale", Target: "deployment/prod/api", Change: "replicas 2 → 4", Risk: checks.RiskMedium, ExpiresAt: exp}},
			"plan p-1 waits for approval: replicas 2 → 4 on deployment/prod/api (risk MEDIUM)", "clankerd plan show p-1|clankerd approve p-1"},
		{"test", store.OutboxEvent{Kind: store.EventTest}, "clankerd test notification: delivery works", "clankerd status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := NewNotification(tt.ev, "")
			if !ok {
				t.Fatal("not built")
			}
			if got := Headline(n); got != tt.want {
				t.Errorf("headline = %q, want %q", got, tt.want)
			}
			if got := strings.Join(n.Commands, "|"); got != tt.cmds {
				t.Errorf("commands = %q, want %q", got, tt.cmds)
			}
		})
	}
}

func TestNotificationMinimumSeverity(t *testing.T) {
	ev := store.OutboxEvent{Kind: store.EventRun, Item: "k", Findings: []store.FindingNotice{
		{Resource: "a", Severity: checks.Low, Change: store.ChangeNew},
		{Resource: "b", Severity: checks.High, Change: store.ChangeNew},
	}}
	tests := []struct {
		min  checks.Severity
		ev   store.OutboxEvent
		want []string
		ok   bool
	}{
		{"", ev, []string{"a", "b"}, true},
		{checks.Medium, ev, []string{"b"}, true},
		{checks.Critical, ev, nil, false},
		{checks.High, store.OutboxEvent{Kind: store.EventRun, Erroring: store.ErroringStarted}, nil, true},
		{checks.Critical, store.OutboxEvent{Kind: store.EventRun, Erroring: store.ErroringStarted}, nil, false},
		{checks.Medium, store.OutboxEvent{Kind: store.EventPlan, Plan: &store.PlanNotice{Risk: checks.RiskLow}}, nil, false},
		{checks.Medium, store.OutboxEvent{Kind: store.EventPlan, Plan: &store.PlanNotice{Risk: checks.RiskHigh}}, nil, true},
	}
	for i, tt := range tests {
		n, ok := NewNotification(tt.ev, tt.min)
		var got []string
		for _, f := range n.Findings {
			got = append(got, f.Resource)
		}
		if ok != tt.ok || strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%d: NewNotification(min %q) = %v, %v; want %v, %v", i, tt.min, got, ok, tt.want, tt.ok)
		}
	}
}

// TestNotificationsRedacted: secrets in a finding never reach a receiver.
func TestNotificationsRedacted(t *testing.T) {
	ev := store.OutboxEvent{ID: "k1", Kind: store.EventRun, Check: "http.status", Error: "GET https://u:hunter2hunter2@x/ failed",
		Erroring: "started", Findings: []store.FindingNotice{{Fingerprint: "f", Resource: "https://admin:s3cr3tpass@db.internal/", Problem: "down",
			Severity: checks.High, Summary: "token: abcdef0123456789 rejected"}}}
	n, ok := NewNotification(ev, "")
	if !ok {
		t.Fatal("nothing built")
	}
	b, _ := json.Marshal(n)
	for _, secret := range []string{"hunter2hunter2", "s3cr3tpass", "abcdef0123456789"} {
		if strings.Contains(string(b)+SlackText(n), secret) {
			t.Errorf("the notification carries %q: %s", secret, b)
		}
	}
}
