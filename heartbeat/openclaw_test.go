package heartbeat

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// OpenClaw's documented heading form lints clean: Continuous uses the file's schedule,
// the parentheses refine Daily and Weekly.
func TestOpenClawHeadings(t *testing.T) {
	files, err := Load([]string{filepath.Join("testdata", "openclaw.md")}, testCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	def, err := ParseSchedule(DefaultSchedule, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	local := "CRON_TZ=" + time.Local.String() + " "
	want := []struct {
		line int
		text string
		spec string
	}{
		{4, "Continuous (every heartbeat)", def.Spec},
		{5, "Continuous (every heartbeat)", def.Spec},
		{8, "Hourly", local + "0 * * * *"},
		{9, "Hourly", local + "0 * * * *"},
		{12, "Daily (morning)", local + "0 9 * * *"},
		{13, "Daily (morning)", local + "0 9 * * *"},
		{16, "Weekly (Monday)", local + "0 0 * * 1"},
		{17, "Weekly (Monday)", local + "0 0 * * 1"},
	}
	items := files[0].Items
	if len(items) != len(want) {
		t.Fatalf("%d items, want %d: %+v", len(items), len(want), items)
	}
	for i, w := range want {
		it := items[i]
		if it.Line != w.line || it.Kind != ItemQuestion || it.Schedule.Text != w.text || it.Schedule.Spec != w.spec {
			t.Errorf("item %d = line %d %s %q (%s); want line %d question %q (%s)", i, it.Line, it.Kind, it.Schedule.Text, it.Schedule.Spec, w.line, w.text, w.spec)
		}
	}
}

// The next firing of OpenClaw's headings in a time zone, with the default morning and
// with the front matter's.
func TestOpenClawNextFire(t *testing.T) {
	ber := mustLoc(t, "Europe/Berlin")
	// Wednesday 2026-06-03 12:00 in Berlin.
	now := time.Date(2026, 6, 3, 12, 0, 0, 0, ber)
	body := "## Continuous (every heartbeat)\n- a\n\n## Daily (morning)\n- b\n\n## Daily (evening)\n- c\n\n## Weekly (Monday)\n- d\n\n## Weekly (Monday morning)\n- e\n"
	at := func(day, h, m int) time.Time { return time.Date(2026, 6, day, h, m, 0, 0, ber) }
	tests := []struct {
		name        string
		frontMatter string
		want        []time.Time // continuous, daily morning, daily evening, weekly monday, weekly monday morning
	}{
		{"defaults", "timezone: Europe/Berlin\n", []time.Time{at(3, 12, 30), at(4, 9, 0), at(3, 18, 0), at(8, 0, 0), at(8, 9, 0)}},
		{"front matter", "timezone: Europe/Berlin\nschedule: every 10m\nmorning: \"07:30\"\nevening: \"19:00\"\n", []time.Time{at(3, 12, 10), at(4, 7, 30), at(3, 19, 0), at(8, 0, 0), at(8, 7, 30)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("HEARTBEAT.md", []byte("---\n"+tt.frontMatter+"---\n"+body), testCatalog(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Items) != len(tt.want) {
				t.Fatalf("%d items, want %d", len(f.Items), len(tt.want))
			}
			for i, want := range tt.want {
				it := f.Items[i]
				if got := it.Schedule.Next(now); !got.Equal(want) {
					t.Errorf("%s: next = %s, want %s", it.Schedule.Text, got.In(ber), want)
				}
			}
			// Weekly (Monday) fires on Mondays in the file's zone, week after week.
			next := now
			for range 3 {
				next = f.Items[3].Schedule.Next(next)
				if lt := next.In(ber); lt.Weekday() != time.Monday || lt.Hour() != 0 {
					t.Errorf("Weekly (Monday) fires %s", lt.Format("Monday 2006-01-02 15:04"))
				}
			}
		})
	}
}

// An OpenClaw tasks: block: each task is a question on its own interval.
func TestOpenClawTasksBlock(t *testing.T) {
	files, err := Load([]string{filepath.Join("testdata", "openclaw-tasks.md")}, testCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	local := "CRON_TZ=" + time.Local.String() + " "
	want := []struct {
		line              int
		text, sched, spec string
	}{
		{4, "Is any disk on the build hosts nearly full?", "every 30m", local + "*/30 * * * *"},
		{7, "Are any TLS certificates about to expire?", "every 24h", local + "0 0 * * *"},
		{10, "Summarize the jobs that failed since the last check.", "every 2h", local + "0 */2 * * *"},
		{18, "Keep alerts short.", DefaultSchedule, local + "*/30 * * * *"},
		{19, "If nothing needs attention, reply HEARTBEAT_OK.", DefaultSchedule, local + "*/30 * * * *"},
	}
	f := files[0]
	if len(f.Items) != len(want) {
		t.Fatalf("%d items, want %d: %+v", len(f.Items), len(want), f.Items)
	}
	for i, w := range want {
		it := f.Items[i]
		if it.Line != w.line || it.Kind != ItemQuestion || it.Text != w.text || it.Schedule.Text != w.sched || it.Schedule.Spec != w.spec {
			t.Errorf("item %d = line %d %s %q %q (%s); want %+v", i, it.Line, it.Kind, it.Text, it.Schedule.Text, it.Schedule.Spec, w)
		}
		if it.Key != questionKey(f.AbsPath, w.text) {
			t.Errorf("item %d: key is not the question's", i)
		}
	}
	if len(f.Notices) != len(want) || !strings.HasPrefix(f.Notices[0].Error(), "testdata/openclaw-tasks.md:4: not routed yet") {
		t.Errorf("notices = %v", f.Notices)
	}
}

func TestOpenClawTasksBlockErrors(t *testing.T) {
	_, err := Load([]string{filepath.Join("testdata", "openclaw-tasks-broken.md")}, testCatalog(t))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v is not Errors", err)
	}
	want := []string{
		`testdata/openclaw-tasks-broken.md:3: front matter morning: "9am" is not a time of day; write HH:MM`,
		`testdata/openclaw-tasks-broken.md:4: front matter evening: 25:00 is not a time of day`,
		`testdata/openclaw-tasks-broken.md:12: unknown task key "model"; a task has name, interval, prompt`,
		`testdata/openclaw-tasks-broken.md:13: task name "disk-space" is already used at line 9`,
		`testdata/openclaw-tasks-broken.md:16: task "no-prompt" has no prompt;`,
		`testdata/openclaw-tasks-broken.md:18: task "soon": interval: "soon" is not an interval`,
		`testdata/openclaw-tasks-broken.md:23: task prompt: want a single value`,
		`testdata/openclaw-tasks-broken.md:27: a tasks: block holds plain-language prompts, not write tasks`,
	}
	wantDiagnostics(t, errs, want)
}

// "tasks:" before an ordinary list, and a list of name: lines without "tasks:", stay
// ordinary items.
func TestTasksLabelBeforeOrdinaryList(t *testing.T) {
	f, err := Parse("HEARTBEAT.md", []byte("tasks:\n- Is the API up?\n\n- name: not a block\n"), testCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Items) != 2 || f.Items[0].Text != "Is the API up?" || f.Items[1].Text != "name: not a block" {
		t.Errorf("items = %+v", f.Items)
	}
}

// A YAML error in a tasks: block is reported at its line in the file.
func TestTasksBlockYAMLErrorLine(t *testing.T) {
	src := "# H\n\ntasks:\n- name: a\n  interval: 30m\n  prompt: ok\n- name: b\n  interval: 1h\n  prompt: alert: now\n"
	_, err := Parse("HEARTBEAT.md", []byte(src), testCatalog(t))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v is not Errors", err)
	}
	wantDiagnostics(t, errs, []string{`HEARTBEAT.md:9: tasks: block: mapping values are not allowed in this context; `})
}
