package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clankerd/clankerd/internal/view"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256, keyed with the webhook's
// secret, of the TimestampHeader value, ".", and the request body.
const SignatureHeader = "X-Clankerd-Signature"

// TimestampHeader carries when the request was signed, in Unix seconds. It is signed
// with the body, so a receiver that refuses old timestamps (MaxSignatureAge) cannot be
// sent a recorded request again later.
const TimestampHeader = "X-Clankerd-Timestamp"

// MaxSignatureAge is how far from its clock a receiver should accept a timestamp, in
// either direction; VerifySignature enforces it.
const MaxSignatureAge = 5 * time.Minute

// Errors of VerifySignature.
var (
	ErrBadSignature   = errors.New("the signature does not match the timestamp and body")
	ErrStaleSignature = errors.New("the timestamp is missing, or further than MaxSignatureAge from now")
)

// IdempotencyHeader carries the notification's idempotency key.
const IdempotencyHeader = "Idempotency-Key"

// Webhook POSTs the notification as JSON, signed when it has a secret.
type Webhook struct {
	// URL may hold a token: it is never logged or shown (see RedactURL).
	URL    string
	Secret []byte
	Client *http.Client
	// Now is the clock that stamps signatures; nil is time.Now.
	Now func() time.Time
}

var _ Target = (*Webhook)(nil)

// Send posts the notification.
func (w *Webhook) Send(ctx context.Context, n view.Notification) error {
	body, err := json.Marshal(webhookBody{Version: 1, Notification: n})
	if err != nil {
		return Permanent(fmt.Errorf("encoding the notification: %w", err))
	}
	headers := map[string]string{}
	if len(w.Secret) > 0 {
		now := time.Now
		if w.Now != nil {
			now = w.Now
		}
		ts := strconv.FormatInt(now().Unix(), 10)
		headers[TimestampHeader] = ts
		headers[SignatureHeader] = Sign(w.Secret, ts, body)
	}
	return post(ctx, w.Client, w.URL, n.Key, body, headers)
}

// webhookBody is the JSON a webhook receives.
type webhookBody struct {
	Version int `json:"version"`
	view.Notification
}

// Sign returns the SignatureHeader value for a body sent at timestamp (Unix seconds):
// "sha256=" and the hex HMAC-SHA256 of timestamp + "." + body.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature is what a receiver runs on a request's headers and raw body: the
// timestamp must be within MaxSignatureAge of now, and the signature that of the
// timestamp and body with secret (compared in constant time).
func VerifySignature(secret, body []byte, h http.Header, now time.Time) error {
	ts := h.Get(TimestampHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > MaxSignatureAge {
		return ErrStaleSignature
	}
	if !hmac.Equal([]byte(h.Get(SignatureHeader)), []byte(Sign(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}

// Slack POSTs a Slack-compatible incoming-webhook message: {"text": ...}.
type Slack struct {
	// URL holds the webhook's token: it is never logged or shown.
	URL    string
	Client *http.Client
}

var _ Target = (*Slack)(nil)

// Send posts the notification as readable text.
func (s *Slack) Send(ctx context.Context, n view.Notification) error {
	body, err := json.Marshal(map[string]string{"text": view.SlackText(n)})
	if err != nil {
		return Permanent(fmt.Errorf("encoding the notification: %w", err))
	}
	return post(ctx, s.Client, s.URL, n.Key, body, nil)
}

// post sends body and classifies the answer: 2xx is delivered; 408, 429 and 5xx are
// worth retrying; any other status is permanent. Errors never contain the URL.
func post(ctx context.Context, client *http.Client, target, key string, body []byte, headers map[string]string) error {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("building the request to %s: %w", RedactURL(target), redactErr(err)))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "clankerd")
	req.Header.Set(IdempotencyHeader, key)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("posting to %s: %w", RedactURL(target), redactErr(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("%s answered HTTP %d: %s", RedactURL(target), resp.StatusCode, strings.TrimSpace(string(snippet)))
	if resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return err
	}
	return Permanent(fmt.Errorf("%w; fix the target's configuration", err))
}

// RedactURL shows where a URL points without its path, query or credentials, which
// may hold tokens: "https://hooks.slack.com/…".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<url>"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// redactErr drops the URL that net/http puts into its errors.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
