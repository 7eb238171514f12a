package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/view"
)

func sampleRun() view.Notification {
	n, _ := view.NewNotification(store.OutboxEvent{
		ID: "n-1", Kind: store.EventRun, Created: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC),
		Item: "key1", Check: "http.status", Pos: "HB.md:4", Run: 7, Status: checks.Fail,
		Findings: []store.FindingNotice{
			{Fingerprint: "fp1", Change: store.ChangeNew, Resource: "https://api.example.com/", Problem: "unexpected_status", Severity: checks.High, Summary: "GET answered 503, expected 200"},
			{Fingerprint: "fp2", Change: store.ChangeWorse, Resource: "https://www.example.com/", Problem: "slow", Severity: checks.Critical, PrevSeverity: checks.Medium, Summary: "took 9s"},
			{Fingerprint: "fp3", Change: store.ChangeResolved, Resource: "https://old.example.com/", Problem: "down", Severity: checks.Low, Summary: "was down"},
		},
	}, "")
	return n
}

func TestWebhookSignedJSON(t *testing.T) {
	rcv := newReceiver(t, "s3cret")
	w := &Webhook{URL: rcv.URL + "/hook/TOKEN123", Secret: []byte("s3cret")}
	if err := w.Send(t.Context(), sampleRun()); err != nil {
		t.Fatal(err)
	}
	accepted, _, _, problems := rcv.snapshot()
	if len(problems) > 0 || accepted["n-1"] != 1 {
		t.Fatalf("receiver: accepted %v, problems %v", accepted, problems)
	}
	got := webhookPayloads(t, rcv)[0]
	if got.Version != 1 || got.Key != "n-1" || got.Check != "http.status" || len(got.Findings) != 3 || got.Findings[1].PrevSeverity != checks.Medium {
		t.Errorf("payload = %+v", got)
	}
	if strings.Join(got.Commands, "|") != "clankerd findings --check key1" {
		t.Errorf("commands = %v", got.Commands)
	}

	// A wrong secret fails verification at the receiver, and that is permanent (401).
	bad := &Webhook{URL: rcv.URL, Secret: []byte("wrong")}
	err := bad.Send(t.Context(), sampleRun())
	if err == nil || !IsPermanent(err) {
		t.Errorf("send with the wrong secret: %v, want a permanent error", err)
	}
	if _, _, _, problems := rcv.snapshot(); len(problems) != 1 || !strings.HasPrefix(problems[0], "bad signature sha256=") {
		t.Errorf("receiver problems = %v", problems)
	}
}

func TestSlackText(t *testing.T) {
	rcv := newReceiver(t, "")
	s := &Slack{URL: rcv.URL + "/services/T000/B000/XXXX"}
	if err := s.Send(t.Context(), sampleRun()); err != nil {
		t.Fatal(err)
	}
	_, bodies, _, _ := rcv.snapshot()
	var msg map[string]string
	if err := json.Unmarshal(bodies[0], &msg); err != nil || len(msg) != 1 {
		t.Fatalf("slack body %s: %v", bodies[0], err)
	}
	text := msg["text"]
	for _, want := range []string{
		"*clankerd*: http.status (HB.md:4): 1 new, 1 worse, 1 resolved",
		"• [HIGH] new https://api.example.com/: GET answered 503, expected 200",
		"• [CRITICAL (was MEDIUM)] worse https://www.example.com/: took 9s",
		"• [RESOLVED LOW] resolved https://old.example.com/: was down",
		"`clankerd findings --check key1`",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("slack text lacks %q:\n%s", want, text)
		}
	}
}

func TestHTTPStatusesAndRedaction(t *testing.T) {
	tests := []struct {
		status    int
		permanent bool
	}{
		{http.StatusInternalServerError, false},
		{http.StatusBadGateway, false},
		{http.StatusTooManyRequests, false},
		{http.StatusRequestTimeout, false},
		{http.StatusNotFound, true},
		{http.StatusBadRequest, true},
		{http.StatusForbidden, true},
	}
	for _, tt := range tests {
		rcv := newReceiver(t, "")
		rcv.failWith = tt.status
		rcv.failNext(1)
		secretURL := rcv.URL + "/services/T0/B0/SECRETTOKEN?token=SECRETTOKEN"
		err := (&Slack{URL: secretURL}).Send(t.Context(), sampleRun())
		if err == nil || IsPermanent(err) != tt.permanent {
			t.Errorf("HTTP %d: %v (permanent %v), want permanent %v", tt.status, err, IsPermanent(err), tt.permanent)
			continue
		}
		if strings.Contains(err.Error(), "SECRETTOKEN") || !strings.Contains(err.Error(), rcv.Listener.Addr().String()+"/…") {
			t.Errorf("error is not redacted: %v", err)
		}
	}
	// A receiver that is not there: the net/http error names the URL, ours must not.
	rcv := newReceiver(t, "")
	url := rcv.URL + "/hook/SECRETTOKEN"
	rcv.Close()
	err := (&Webhook{URL: url}).Send(t.Context(), sampleRun())
	if err == nil || IsPermanent(err) || strings.Contains(err.Error(), "SECRETTOKEN") {
		t.Errorf("unreachable receiver: %v", err)
	}
}

// The signature covers the timestamp: a recorded request replayed later, with its
// timestamp refreshed or not, is refused.
func TestWebhookSignatureTimestamp(t *testing.T) {
	var got http.Header
	var body []byte
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		body, _ = io.ReadAll(r.Body)
	}))
	t.Cleanup(rcv.Close)
	sent := time.Unix(1_800_000_000, 0)
	w := &Webhook{URL: rcv.URL, Secret: []byte("s3cret"), Now: func() time.Time { return sent }}
	if err := w.Send(t.Context(), sampleRun()); err != nil {
		t.Fatal(err)
	}
	if got.Get(TimestampHeader) != "1800000000" {
		t.Fatalf("%s = %q", TimestampHeader, got.Get(TimestampHeader))
	}
	secret := []byte("s3cret")
	if err := VerifySignature(secret, body, got, sent.Add(MaxSignatureAge)); err != nil {
		t.Errorf("a fresh request: %v", err)
	}
	if err := VerifySignature(secret, body, got, sent.Add(MaxSignatureAge+time.Second)); !errors.Is(err, ErrStaleSignature) {
		t.Errorf("the request replayed later: %v, want ErrStaleSignature", err)
	}
	replay := got.Clone()
	replay.Set(TimestampHeader, "1800000600")
	if err := VerifySignature(secret, body, replay, sent.Add(10*time.Minute)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("the body replayed with a new timestamp: %v, want ErrBadSignature", err)
	}
	if err := VerifySignature([]byte("wrong"), body, got, sent); !errors.Is(err, ErrBadSignature) {
		t.Errorf("another secret: %v", err)
	}
	unstamped := got.Clone()
	unstamped.Del(TimestampHeader)
	if err := VerifySignature(secret, body, unstamped, sent); !errors.Is(err, ErrStaleSignature) {
		t.Errorf("no timestamp: %v", err)
	}
	// Signed over timestamp "." body, as docs/notifications.md tells receivers.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("1800000000." + string(body)))
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); got.Get(SignatureHeader) != want {
		t.Errorf("%s = %q, want %q", SignatureHeader, got.Get(SignatureHeader), want)
	}
}
