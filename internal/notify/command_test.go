package notify

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCommandGetsJSONOnStdin(t *testing.T) {
	out := filepath.Join(t.TempDir(), "got")
	c := &Command{Argv: []string{script(t, `cat > "$1"; echo "$CLANKERD_IDEMPOTENCY_KEY" >> "$1.key"`), out}}
	if err := c.Send(t.Context(), sampleRun()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got webhookBody
	if err := json.Unmarshal(data, &got); err != nil || got.Key != "n-1" || len(got.Findings) != 3 {
		t.Errorf("stdin = %s (%v)", data, err)
	}
	if key, _ := os.ReadFile(out + ".key"); strings.TrimSpace(string(key)) != "n-1" {
		t.Errorf("$CLANKERD_IDEMPOTENCY_KEY = %q", key)
	}

	failing := &Command{Argv: []string{script(t, "echo 'queue full' >&2; exit 3")}}
	if err := failing.Send(t.Context(), sampleRun()); err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "queue full") {
		t.Errorf("failing command: %v, want a retryable error with its output", err)
	}
	missing := &Command{Argv: []string{filepath.Join(t.TempDir(), "nope")}}
	if err := missing.Send(t.Context(), sampleRun()); !IsPermanent(err) {
		t.Errorf("missing command: %v, want permanent", err)
	}
}

func TestDesktop(t *testing.T) {
	out := filepath.Join(t.TempDir(), "args")
	fake := script(t, `for a in "$@"; do echo "$a"; done > `+out)
	tests := []struct {
		goos string
		tool string
		want string
	}{
		{"linux", "notify-send", "clankerd: http.status (HB.md:4): 1 new, 1 worse, 1 resolved"},
		{"darwin", "osascript", `with title "clankerd: http.status (HB.md:4): 1 new, 1 worse, 1 resolved"`},
	}
	for _, tt := range tests {
		var asked string
		d := &Desktop{GOOS: tt.goos, LookPath: func(name string) (string, error) { asked = name; return fake, nil }}
		if err := d.Send(t.Context(), sampleRun()); err != nil {
			t.Fatalf("%s: %v", tt.goos, err)
		}
		got, _ := os.ReadFile(out)
		if asked != tt.tool || !strings.Contains(string(got), tt.want) {
			t.Errorf("%s: ran %s with %s", tt.goos, asked, got)
		}
	}
	none := &Desktop{GOOS: "linux", LookPath: func(string) (string, error) { return "", errors.New("not found") }}
	if err := none.Send(t.Context(), sampleRun()); !IsPermanent(err) || !strings.Contains(err.Error(), "notify-send, which is not installed") {
		t.Errorf("without notify-send: %v", err)
	}
	if err := (&Desktop{GOOS: "plan9"}).Send(t.Context(), sampleRun()); !IsPermanent(err) {
		t.Errorf("unsupported OS: %v", err)
	}
}
