package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/clankerd/clankerd/internal/view"
)

// Command runs a program with the notification's JSON (the webhook body) on stdin and
// the idempotency key in $CLANKERD_IDEMPOTENCY_KEY. Exit status 0 is delivered; any
// other is retried.
type Command struct {
	Argv []string
}

var _ Target = (*Command)(nil)

// Send runs the command.
func (c *Command) Send(ctx context.Context, n view.Notification) error {
	if len(c.Argv) == 0 {
		return Permanent(errors.New("the command target has no command"))
	}
	body, err := json.Marshal(webhookBody{Version: 1, Notification: n})
	if err != nil {
		return Permanent(fmt.Errorf("encoding the notification: %w", err))
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Env = append(os.Environ(), "CLANKERD_IDEMPOTENCY_KEY="+n.Key)
	out := &limitedBuffer{max: 500}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	var notFound *exec.Error
	switch {
	case errors.As(err, &notFound), errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return Permanent(fmt.Errorf("running %s: %w; check the command's path", c.Argv[0], err))
	case err != nil:
		return fmt.Errorf("%s failed: %w: %s", c.Argv[0], err, strings.TrimSpace(out.String()))
	}
	return nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string { return b.buf.String() }

// Desktop shows a desktop notification: notify-send on Linux, osascript on macOS.
type Desktop struct {
	// GOOS picks the tool (default runtime.GOOS); LookPath finds it (default
	// exec.LookPath).
	GOOS     string
	LookPath func(string) (string, error)
}

var _ Target = (*Desktop)(nil)

// Send shows the notification. A machine without the tool fails permanently.
func (d *Desktop) Send(ctx context.Context, n view.Notification) error {
	goos, look := d.GOOS, d.LookPath
	if goos == "" {
		goos = runtime.GOOS
	}
	if look == nil {
		look = exec.LookPath
	}
	title, body := "clankerd: "+view.Headline(n), view.PlainText(n)
	var tool string
	var argv []string
	switch goos {
	case "darwin":
		tool = "osascript"
		argv = []string{"-e", fmt.Sprintf("display notification %s with title %s", appleScriptString(body), appleScriptString(title))}
	case "linux", "freebsd", "openbsd", "netbsd":
		tool = "notify-send"
		argv = []string{"--app-name=clankerd", title, body}
	default:
		return Permanent(fmt.Errorf("desktop notifications are not supported on %s; use a webhook or command target", goos))
	}
	path, err := look(tool)
	if err != nil {
		return Permanent(fmt.Errorf("desktop notifications need %s, which is not installed here: %w", tool, err))
	}
	out := &limitedBuffer{max: 500}
	cmd := exec.CommandContext(ctx, path, argv...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s failed: %w: %s", tool, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// appleScriptString quotes s as an AppleScript string literal.
func appleScriptString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
