package app

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStateKey(t *testing.T) {
	shared := bytes.Repeat([]byte{7}, 32)
	env := base64.StdEncoding.EncodeToString(shared)

	// From the environment: the same key in every state directory, and no key file.
	dir := t.TempDir()
	key, anchor, err := stateKey(dir, env+"\n")
	if err != nil || !bytes.Equal(key, shared) || !anchor {
		t.Fatalf("key from the environment = %x, anchor %v, %v", key, anchor, err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); !os.IsNotExist(err) {
		t.Errorf("a key from the environment wrote %s: %v", KeyFile, err)
	}
	if err := os.WriteFile(filepath.Join(dir, CheckpointFile), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, anchor, _ := stateKey(dir, env); anchor {
		t.Error("a state directory with a checkpoint was anchored anew")
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, _, err := stateKey(dir, bad); err == nil || !strings.Contains(err.Error(), KeyEnv) {
			t.Errorf("%q: %v, want an error naming %s", bad, err, KeyEnv)
		}
	}

	// From the file: made on first use (anchor), the same afterwards.
	dir = t.TempDir()
	first, anchor, err := stateKey(dir, "")
	if err != nil || len(first) != 32 || !anchor {
		t.Fatalf("new key file: %x, anchor %v, %v", first, anchor, err)
	}
	again, anchor, err := stateKey(dir, "")
	if err != nil || !bytes.Equal(first, again) || anchor {
		t.Fatalf("existing key file: %x (want %x), anchor %v, %v", again, first, anchor, err)
	}
}
