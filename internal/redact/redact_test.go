package redact

import (
	"strings"
	"testing"

	"github.com/clankerd/clankerd/internal/redact/redacttest"
)

// TestCorpus runs every case of the corpus through String: no secret of a case, nor
// any word of one, survives, and what is not a secret comes out unchanged.
func TestCorpus(t *testing.T) {
	cases := redacttest.Corpus()
	if n := len(redacttest.Secrets()); n < 40 {
		t.Fatalf("the corpus has %d secret shapes, want at least 40", n)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got := String(c.Text)
			if leaks := c.Leaks(got); leaks != nil {
				t.Errorf("secrets.txt:%d: String(%q) = %q: leaves %q", c.Line, c.Text, got, leaks)
			}
			if len(c.Secrets) > 0 && !strings.Contains(got, Mask) {
				t.Errorf("secrets.txt:%d: String(%q) = %q: nothing masked", c.Line, c.Text, got)
			}
		})
	}
}

// TestStringKeepsWhatItMasks checks that a masked value keeps its key, its scheme and
// its quotes, so that the operator still sees what was there.
func TestStringKeepsWhatItMasks(t *testing.T) {
	for in, want := range map[string]string{
		`password: "correct horse battery staple"`:           `password: "[REDACTED]"`,
		`passwd: 'my very secret phrase'`:                    `passwd: '[REDACTED]'`,
		"password: correct horse battery staple\nhost: db":   "password: [REDACTED]\nhost: db",
		`{"password": "a b", "user": "bob"}`:                 `{"password": "[REDACTED]", "user": "bob"}`,
		"Authorization: Bearer abcdef0123456789.xyz":         "Authorization: Bearer [REDACTED]",
		"Authorization: token abcdef0123456789":              "Authorization: token [REDACTED]",
		"postgres://app:s3cr3t@db:5432/app":                  "postgres://[REDACTED]@db:5432/app",
		"GET /x?a=1&token=abc&b=2":                           "GET /x?a=1&token=[REDACTED]&b=2",
		"https://hooks.slack.com/services/T0/B0/XYZ failed":  "https://hooks.slack.com/services/[REDACTED] failed",
		"MYSQL_ROOT_PASSWORD=\"with spaces\" PORT=3306":      "MYSQL_ROOT_PASSWORD=\"[REDACTED]\" PORT=3306",
		"Cookie: a=b; c=d":                                   "Cookie: [REDACTED]",
		"mysqldump --password hunter2hunter2 shop":           "mysqldump --password [REDACTED] shop",
		"AccountName=a;AccountKey=abc123==;EndpointSuffix=x": "AccountName=a;AccountKey=[REDACTED];EndpointSuffix=x",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMap(t *testing.T) {
	got := Map(map[string]string{"api_key": "plain", "image": "nginx:latest", "env": "API_TOKEN=abc123def"})
	if got["api_key"] != Mask || got["image"] != "nginx:latest" || strings.Contains(got["env"], "abc123def") {
		t.Errorf("Map = %v", got)
	}
}

// FuzzString starts from every case of the corpus: String never panics, and a
// redacted text redacted again is the same.
func FuzzString(f *testing.F) {
	for _, c := range redacttest.Corpus() {
		f.Add(c.Text)
	}
	f.Add("AKIAIOSFODNN7EXAMPLE token: x -----BEGIN PRIVATE KEY-----")
	f.Fuzz(func(t *testing.T, s string) {
		once := String(s)
		if twice := String(once); twice != once {
			t.Errorf("not idempotent: %q → %q → %q", s, once, twice)
		}
	})
}

// TestNeedsChangeNothing: the cheap tests that skip an expression never change what
// String returns, on every corpus case, its upper- and lower-case forms, and each
// case cut at every tenth byte.
func TestNeedsChangeNothing(t *testing.T) {
	for _, c := range redacttest.Corpus() {
		texts := []string{c.Text, strings.ToUpper(c.Text), strings.ToLower(c.Text), "x " + c.Text + " y"}
		for i := 0; i < len(c.Text); i += 10 {
			texts = append(texts, c.Text[:i], c.Text[i:])
		}
		for _, s := range texts {
			if got, want := String(s), everyPattern(s); got != want {
				t.Errorf("%s: String(%q) = %q, every pattern = %q", c.Name, s, got, want)
			}
		}
	}
}

// FuzzNeedsChangeNothing is TestNeedsChangeNothing on any text.
func FuzzNeedsChangeNothing(f *testing.F) {
	for _, c := range redacttest.Corpus() {
		f.Add(c.Text)
	}
	f.Add("Authorization: Bearer abcdefgh12345678")
	f.Add("eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := String(s), everyPattern(s); got != want {
			t.Errorf("String(%q) = %q, every pattern = %q", s, got, want)
		}
	})
}
