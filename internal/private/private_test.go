package private

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDir(t *testing.T) {
	base := t.TempDir()
	tests := []struct {
		name string
		mode os.FileMode
		want string
	}{
		{"own 0700", 0o700, ""},
		{"own 0755", 0o755, ""},
		{"world writable", 0o777, "writable by group or others"},
		{"group writable", 0o770, "writable by group or others"},
		{"sticky world writable", 0o777 | os.ModeSticky, "writable by group or others"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(base, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.mode); err != nil {
				t.Fatal(err)
			}
			err := Dir(dir)
			if tt.want == "" && err != nil {
				t.Fatalf("Dir: %v", err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Dir = %v, want an error with %q", err, tt.want)
			}
		})
	}
	t.Run("made when missing", func(t *testing.T) {
		dir := filepath.Join(base, "new", "state")
		if err := Dir(dir); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("stat = %v, %v; want a 0700 directory", fi, err)
		}
	})
	t.Run("a file", func(t *testing.T) {
		p := filepath.Join(base, "file")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Dir(p); err == nil {
			t.Fatal("Dir accepted a regular file")
		}
	})
}

func TestReadSecretRefuses(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := CreateSecret(good, []byte("s3cret")); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(dir, "loose")
	if err := os.WriteFile(loose, []byte("planted"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), MaxSecret+1), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"mode 0644", loose, "may be read or written by others"},
		{"symlink", link, "not a symlink"},
		{"fifo", fifo, "not a regular file"},
		{"directory", dir, "not a regular file"},
		{"too big", big, "over"},
		{"missing", filepath.Join(dir, "none"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSecret(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadSecret = %v, want an error with %q", err, tt.want)
			}
		})
	}
	b, err := ReadSecret(good)
	if err != nil || string(b) != "s3cret" {
		t.Fatalf("ReadSecret(good) = %q, %v", b, err)
	}
}

func TestCreateSecretNeverWritesThrough(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "victim")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "token")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := CreateSecret(link, []byte("new")); !errors.Is(err, ErrExists) {
		t.Fatalf("CreateSecret over a symlink = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("the symlink's target was written: %q", b)
	}
	if err := ReplaceSecret(link, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("ReplaceSecret wrote through the symlink: %q", b)
	}
	if b, err := ReadSecret(link); err != nil || string(b) != "new" {
		t.Fatalf("after ReplaceSecret: %q, %v", b, err)
	}
}

func TestKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	k1, err := Key(path, 32)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := Key(path, 32)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) != 32 {
		t.Fatalf("Key is not stable: %x, %x, %v", k1, k2, err)
	}
	if _, err := Key(path, 16); err == nil {
		t.Fatal("a key of the wrong length was accepted")
	}
}

// TestReadOwnFile: a file of the user's that others may read is read; one that group
// or others may write, a symlink to a good one and a directory are refused.
func TestReadOwnFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "approvals.yaml")
	if err := os.WriteFile(good, []byte("rules: []"), 0o644); err != nil {
		t.Fatal(err)
	}
	writable := filepath.Join(dir, "writable.yaml")
	if err := os.WriteFile(writable, []byte("rules: []"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o666); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadOwnFile(good, 1<<10); err != nil || string(b) != "rules: []" {
		t.Fatalf("ReadOwnFile(0644) = %q, %v", b, err)
	}
	for path, want := range map[string]string{writable: "chmod go-w", link: "not a symlink", dir: "not a regular file", good + ".none": "no such file"} {
		if _, err := ReadOwnFile(path, 1<<10); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadOwnFile(%s) = %v, want an error with %q", path, err, want)
		}
	}
	if _, err := ReadOwnFile(good, 3); err == nil || !strings.Contains(err.Error(), "over 3 bytes") {
		t.Errorf("ReadOwnFile over max = %v", err)
	}
}
