package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lintJSON is the part of `clankerd lint -o json` the OpenClaw tests read.
type lintJSON struct {
	Valid bool `json:"valid"`
	Files []struct {
		Path  string `json:"path"`
		Items []struct {
			Item         string    `json:"item"`
			Kind         string    `json:"kind"`
			Text         string    `json:"text"`
			Schedule     string    `json:"schedule"`
			ScheduleSpec string    `json:"schedule_spec"`
			Next         time.Time `json:"next"`
		} `json:"items"`
	} `json:"files"`
	Errors []string `json:"errors"`
}

// OpenClaw's HEARTBEAT.md forms lint clean through the built binary: its headings
// (Continuous, Hourly, Daily (morning), Weekly (Monday)) and its tasks: block, each
// item shown with its schedule.
func TestLintOpenClawHeartbeat(t *testing.T) {
	state := t.TempDir()
	headings := filepath.Join("..", "..", "heartbeat", "testdata", "openclaw.md")
	tasks := filepath.Join("..", "..", "heartbeat", "testdata", "openclaw-tasks.md")
	// The files set no timezone: TZ=UTC makes the machine's local zone UTC.
	r := cliEnv(t, []string{"TZ=UTC"}, state, "lint", headings, tasks)
	if r.code != 0 || !strings.Contains(r.stdout, "valid") {
		t.Fatalf("lint: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"openclaw.md:4 ", "Continuous (every heartbeat) (CRON_TZ=UTC */30 * * * *)",
		"openclaw.md:12 ", "Daily (morning) (CRON_TZ=UTC 0 9 * * *)",
		"openclaw.md:16 ", "Weekly (Monday) (CRON_TZ=UTC 0 0 * * 1)",
		"openclaw-tasks.md:4 ", "every 30m (CRON_TZ=UTC */30 * * * *)",
		"openclaw-tasks.md:7 ", "every 24h (CRON_TZ=UTC 0 0 * * *)",
		"openclaw-tasks.md:10 ", "every 2h (CRON_TZ=UTC 0 */2 * * *)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("lint output lacks %q:\n%s", want, r.stdout)
		}
	}

	// The next runs in a time zone, with the front matter's morning.
	dir := t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, "---\ntimezone: Asia/Tokyo\nmorning: \"07:30\"\n---\n"+
		"## Daily (morning)\n- `tls.expiry` addr=example.com:443 warn=30d\n\n"+
		"## Weekly (Monday)\n- `tls.expiry` addr=example.org:443 warn=30d\n")
	var out lintJSON
	jsonOut(t, state, 0, &out, "lint", hb)
	if !out.Valid || len(out.Files) != 1 || len(out.Files[0].Items) != 2 {
		t.Fatalf("lint json = %+v", out)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	morning, weekly := out.Files[0].Items[0], out.Files[0].Items[1]
	if next := morning.Next.In(tokyo); morning.ScheduleSpec != "CRON_TZ=Asia/Tokyo 30 7 * * *" || next.Hour() != 7 || next.Minute() != 30 {
		t.Errorf("Daily (morning): %s, next %s", morning.ScheduleSpec, next)
	}
	if next := weekly.Next.In(tokyo); weekly.ScheduleSpec != "CRON_TZ=Asia/Tokyo 0 0 * * 1" || next.Weekday() != time.Monday || next.Hour() != 0 {
		t.Errorf("Weekly (Monday): %s, next %s", weekly.ScheduleSpec, next.Format("Monday 2006-01-02 15:04"))
	}
}

// A bad entry in a tasks: block is reported at its line.
func TestLintOpenClawTasksBlockProblems(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, "# HEARTBEAT.md\n\ntasks:\n- name: inbox\n  interval: 30m\n  prompt: \"Anything urgent?\"\n- name: calendar\n  interval: fortnightly\n  prompt: \"Meetings today?\"\n")
	r := cli(t, state, "lint", hb)
	if want := hb + `:7: task "calendar": interval: "fortnightly" is not an interval`; r.code != 3 || !strings.Contains(r.stderr, want) {
		t.Errorf("lint: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
	}
}
