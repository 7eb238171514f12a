package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/control"
)

// configMapVolume lays out dir as the kubelet's atomic writer lays out a ConfigMap
// mounted as a volume: the files in a timestamped directory, a "..data" symlink to
// it, and one symlink per key through "..data". Each call is one update: a new
// timestamped directory, "..data" swapped by renaming a new link over it, the old
// directory removed, and key links added or removed.
type configMapVolume struct {
	dir  string
	gen  int
	prev string
}

func (v *configMapVolume) update(t *testing.T, files map[string]string) {
	t.Helper()
	v.gen++
	ts := fmt.Sprintf("..2026_12_03_10_00_%02d.%d", v.gen, 1000+v.gen)
	if err := os.Mkdir(filepath.Join(v.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		writeFile(t, filepath.Join(v.dir, ts, name), content)
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(v.dir)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if _, keep := files[name]; !keep {
			os.Remove(filepath.Join(v.dir, name))
		}
	}
	for name := range files {
		link := filepath.Join(v.dir, name)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	if v.prev != "" {
		os.RemoveAll(filepath.Join(v.dir, v.prev))
	}
	v.prev = ts
}

// TestDaemonHeartbeatDirectoryLikeAConfigMap runs the daemon on a directory laid out
// like a mounted ConfigMap: every *.md key runs, and the kubelet's updates (a changed
// key, a new key, a removed key, a broken edit) are picked up without a restart.
func TestDaemonHeartbeatDirectoryLikeAConfigMap(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	open := listen(t)
	vol := &configMapVolume{dir: dir}
	vol.update(t, map[string]string{
		"team.md":     fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s\n", open),
		"README.txt":  "not a heartbeat",
		"disabled.md": "",
	})
	d := startDaemon(t, state, "--heartbeat", dir, "--grace", "10s")

	runsOf := func(check string) int {
		var runs struct {
			Runs []struct{ Check string } `json:"runs"`
		}
		jsonOut(t, state, 0, &runs, "runs", "--limit", "0", "--check", check)
		return len(runs.Runs)
	}
	status := func() *control.DaemonInfo {
		var st control.Status
		jsonOut(t, state, 0, &st, "status")
		return st.Daemon
	}
	waitFor(t, 20*time.Second, "the ConfigMap's item to run", func() bool { return runsOf("tcp.connect") >= 1 })
	if got := status().Heartbeats; len(got) != 2 || !strings.HasSuffix(got[0], "disabled.md") || !strings.HasSuffix(got[1], "team.md") {
		t.Errorf("heartbeat files = %v, want disabled.md and team.md", got)
	}

	// The ConfigMap gains a key and its first key changes: one swap of ..data.
	vol.update(t, map[string]string{
		"team.md":  fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s\n- `tls.expiry` addr=%s timeout=1s\n", open, open),
		"night.md": "## Hourly\n- `tcp.connect` addr=127.0.0.1:1\n",
	})
	waitFor(t, 20*time.Second, "the updated key's new item to run", func() bool { return runsOf("tls.expiry") >= 1 })
	waitFor(t, 20*time.Second, "the new key and the removed one in status", func() bool {
		st := status()
		return st != nil && st.Items == 3 && len(st.Heartbeats) == 2 && strings.HasSuffix(st.Heartbeats[0], "night.md")
	})

	// A broken edit keeps the last good version of that key and says where.
	vol.update(t, map[string]string{
		"team.md":  "## Every 1 second\n- `tcp.connect` addr=\n",
		"night.md": "## Hourly\n- `tcp.connect` addr=127.0.0.1:1\n",
	})
	waitFor(t, 20*time.Second, "the reload error naming the key's file", func() bool {
		return strings.Contains(d.logs.String(), filepath.Join(dir, "team.md")+":2: tcp.connect: parameter addr")
	})
	before := runsOf("tls.expiry")
	waitFor(t, 20*time.Second, "the last good items to keep running", func() bool { return runsOf("tls.expiry") > before })

	d.stop(t, syscall.SIGTERM, 20*time.Second)
	var audit struct {
		Audit []struct{ Action, Subject string } `json:"audit"`
	}
	jsonOut(t, state, 0, &audit, "audit", "--limit", "0")
	removed := false
	for _, a := range audit.Audit {
		removed = removed || (a.Action == "heartbeat.removed" && strings.HasSuffix(a.Subject, "disabled.md"))
	}
	if !removed {
		t.Errorf("no heartbeat.removed audit record for the key the ConfigMap lost: %+v", audit.Audit)
	}
}
