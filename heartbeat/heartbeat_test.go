package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/text"

	"github.com/clankerd/clankerd/checks"
)

type fakeCheck struct{ spec checks.Spec }

func (f fakeCheck) Spec() checks.Spec { return f.spec }
func (f fakeCheck) Run(context.Context, checks.Params) (checks.Result, error) {
	return checks.Result{}, nil
}

type fakeTask struct{ fakeCheck }

func (fakeTask) Plan(context.Context, checks.Params) (checks.Plan, error) { return checks.Plan{}, nil }
func (fakeTask) Apply(context.Context, checks.Plan) (checks.Applied, error) {
	return checks.Applied{}, nil
}

// testCatalog has realistic specs of the kinds the parser must handle.
func testCatalog(t testing.TB) *checks.Registry {
	t.Helper()
	r := checks.NewRegistry()
	add := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	add(r.AddCheck(fakeCheck{checks.Spec{ID: "http.status", Params: []checks.ParamSpec{
		{Name: "url", Type: checks.URL, Required: true, Doc: "URL"},
		{Name: "expect", Type: checks.String, Default: "200-399"},
		{Name: "contains", Type: checks.String},
	}}}))
	add(r.AddCheck(fakeCheck{checks.Spec{ID: "tcp.connect", Params: []checks.ParamSpec{{Name: "addr", Type: checks.Addr, Required: true, Doc: "host:port"}}}}))
	add(r.AddCheck(fakeCheck{checks.Spec{ID: "tls.expiry", Params: []checks.ParamSpec{
		{Name: "addr", Type: checks.Addr, Required: true},
		{Name: "warn", Type: checks.Duration, Default: "14d"},
	}}}))
	add(r.AddCheck(fakeCheck{checks.Spec{ID: "k8s.pods", Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.String},
		{Name: "context", Type: checks.String, FrontMatter: "kube_context"},
	}}}))
	add(r.AddTask(fakeTask{fakeCheck{checks.Spec{ID: "test.scale", Params: []checks.ParamSpec{
		{Name: "deployment", Type: checks.String, Required: true},
		{Name: "replicas", Type: checks.Int, Required: true},
	}}}}))
	return r
}

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestScheduleTable(t *testing.T) {
	ber, ny, kol := mustLoc(t, "Europe/Berlin"), mustLoc(t, "America/New_York"), mustLoc(t, "Asia/Kolkata")
	// Noon UTC on the day before Berlin moves its clocks forward (2026-03-29 02:00 → 03:00).
	base := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		text string
		loc  *time.Location
		spec string
		next []string // the next three firings after base, in UTC
	}{
		{"Every 5 minutes", ber, "CRON_TZ=Europe/Berlin */5 * * * *", []string{"12:05", "12:10", "12:15"}},
		{"every 1 minute", time.UTC, "CRON_TZ=UTC * * * * *", []string{"12:01", "12:02", "12:03"}},
		{"every minute", time.UTC, "CRON_TZ=UTC * * * * *", []string{"12:01", "12:02", "12:03"}},
		{"every 30 seconds", time.UTC, "@every 30s", []string{"12:00:30", "12:01", "12:01:30"}},
		{"every 90s", time.UTC, "@every 1m30s", []string{"12:01:30", "12:03", "12:04:30"}},
		{"EVERY 30M", ber, "CRON_TZ=Europe/Berlin */30 * * * *", []string{"12:30", "13:00", "13:30"}},
		{"every 7 minutes", kol, "@every 7m0s", []string{"12:07", "12:14", "12:21"}},
		{"every 2h", ber, "CRON_TZ=Europe/Berlin 0 */2 * * *", []string{"13:00", "15:00", "17:00"}},
		{"every 3 hours", ber, "CRON_TZ=Europe/Berlin 0 */3 * * *", []string{"14:00", "17:00", "20:00"}},
		{"every 5 hours", ber, "@every 5h0m0s", []string{"17:00", "22:00", "03-29 03:00"}},
		{"every hour", kol, "CRON_TZ=Asia/Kolkata 0 * * * *", []string{"12:30", "13:30", "14:30"}},
		{"Hourly", kol, "CRON_TZ=Asia/Kolkata 0 * * * *", []string{"12:30", "13:30", "14:30"}},
		{"every day", ny, "CRON_TZ=America/New_York 0 0 * * *", []string{"03-29 04:00", "03-30 04:00", "03-31 04:00"}},
		{"every 2 days", ber, "@every 48h0m0s", []string{"03-30 12:00", "04-01 12:00", "04-03 12:00"}},
		{"Daily", ny, "CRON_TZ=America/New_York 0 0 * * *", []string{"03-29 04:00", "03-30 04:00", "03-31 04:00"}},
		{"Daily at 09:15", ber, "CRON_TZ=Europe/Berlin 15 9 * * *", []string{"03-29 07:15", "03-30 07:15", "03-31 07:15"}},
		// 02:30 does not exist in Berlin on 2026-03-29: robfig/cron skips that day.
		{"daily at 02:30", ber, "CRON_TZ=Europe/Berlin 30 2 * * *", []string{"03-30 00:30", "03-31 00:30", "04-01 00:30"}},
		{"nightly at 1:05", time.UTC, "CRON_TZ=UTC 5 1 * * *", []string{"03-29 01:05", "03-30 01:05", "03-31 01:05"}},
		{"every day at 6:00 pm", kol, "CRON_TZ=Asia/Kolkata 0 18 * * *", []string{"12:30", "03-29 12:30", "03-30 12:30"}},
		{"Weekdays at 08:30", ny, "CRON_TZ=America/New_York 30 8 * * 1-5", []string{"03-30 12:30", "03-31 12:30", "04-01 12:30"}},
		{"every weekday at 08:30", ny, "CRON_TZ=America/New_York 30 8 * * 1-5", []string{"03-30 12:30", "03-31 12:30", "04-01 12:30"}},
		{"Weekends at 10:00", time.UTC, "CRON_TZ=UTC 0 10 * * 0,6", []string{"03-29 10:00", "04-04 10:00", "04-05 10:00"}},
		{"Mondays at 9:00 am", kol, "CRON_TZ=Asia/Kolkata 0 9 * * 1", []string{"03-30 03:30", "04-06 03:30", "04-13 03:30"}},
		{"sunday at 23:59", ber, "CRON_TZ=Europe/Berlin 59 23 * * 0", []string{"03-29 21:59", "04-05 21:59", "04-12 21:59"}},
		{"Weekly report", time.UTC, "CRON_TZ=UTC 0 0 * * 0", []string{"03-29 00:00", "04-05 00:00", "04-12 00:00"}},
		{"Nightly `0 2 * * *`", ber, "CRON_TZ=Europe/Berlin 0 2 * * *", []string{"03-30 00:00", "03-31 00:00", "04-01 00:00"}},
		{"Backups `@every 10m` every 5 minutes", ber, "@every 10m", []string{"12:10", "12:20", "12:30"}},
		{"`@daily`", ny, "CRON_TZ=America/New_York @daily", []string{"03-29 04:00", "03-30 04:00", "03-31 04:00"}},
		{"`@hourly`", time.UTC, "CRON_TZ=UTC @hourly", []string{"13:00", "14:00", "15:00"}},
		{"*/15 * * * *", time.UTC, "CRON_TZ=UTC */15 * * * *", []string{"12:15", "12:30", "12:45"}},
		// OpenClaw's headings: a time of day or weekday in parentheses refines the word.
		{"Daily (morning)", ber, "CRON_TZ=Europe/Berlin 0 9 * * *", []string{"03-29 07:00", "03-30 07:00", "03-31 07:00"}},
		{"Daily (evening)", ny, "CRON_TZ=America/New_York 0 18 * * *", []string{"22:00", "03-29 22:00", "03-30 22:00"}},
		{"Daily (7:15 pm)", time.UTC, "CRON_TZ=UTC 15 19 * * *", []string{"19:15", "03-29 19:15", "03-30 19:15"}},
		{"Daily (important)", time.UTC, "CRON_TZ=UTC 0 0 * * *", []string{"03-29 00:00", "03-30 00:00", "03-31 00:00"}},
		{"Weekly (Monday)", kol, "CRON_TZ=Asia/Kolkata 0 0 * * 1", []string{"03-29 18:30", "04-05 18:30", "04-12 18:30"}},
		{"Weekly (Mon)", time.UTC, "CRON_TZ=UTC 0 0 * * 1", []string{"03-30 00:00", "04-06 00:00", "04-13 00:00"}},
		{"Weekly (Monday morning)", ber, "CRON_TZ=Europe/Berlin 0 9 * * 1", []string{"03-30 07:00", "04-06 07:00", "04-13 07:00"}},
		{"weekly (thursdays, 08:30)", time.UTC, "CRON_TZ=UTC 30 8 * * 4", []string{"04-02 08:30", "04-09 08:30", "04-16 08:30"}},
		{"Weekly (Monday) at 7:00 am", time.UTC, "CRON_TZ=UTC 0 7 * * 1", []string{"03-30 07:00", "04-06 07:00", "04-13 07:00"}},
		{"Weekly (evening)", time.UTC, "CRON_TZ=UTC 0 18 * * 0", []string{"03-29 18:00", "04-05 18:00", "04-12 18:00"}},
		{"Weekdays (morning)", ny, "CRON_TZ=America/New_York 0 9 * * 1-5", []string{"03-30 13:00", "03-31 13:00", "04-01 13:00"}},
		{"Weekends (evening)", time.UTC, "CRON_TZ=UTC 0 18 * * 0,6", []string{"18:00", "03-29 18:00", "04-04 18:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			s, err := ParseSchedule(tt.text, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			if s.Spec != tt.spec {
				t.Errorf("spec = %q, want %q", s.Spec, tt.spec)
			}
			at := base
			for i, want := range tt.next {
				at = s.Next(at)
				if got := shortUTC(at); got != want {
					t.Errorf("firing %d = %s, want %s", i+1, got, want)
				}
			}
		})
	}
}

// shortUTC prints a time on 2026-03-28 as "HH:MM[:SS]" and other days as "MM-DD HH:MM".
func shortUTC(t time.Time) string {
	t = t.UTC()
	s := t.Format("15:04")
	if t.Second() != 0 {
		s = t.Format("15:04:05")
	}
	if t.Format("01-02") != "03-28" {
		s = t.Format("01-02 ") + s
	}
	return s
}

func TestScheduleErrors(t *testing.T) {
	tests := map[string]string{
		"every fortnight":          `cannot read the schedule after "every"`,
		"every 0 minutes":          "positive",
		"at 08:30":                 `needs a day`,
		"daily at 25:00":           "not a time of day",
		"mondays at 13:00 pm":      "not a time",
		"nightly":                  `"nightly" needs a time`,
		"`61 2 * * *`":             "cron spec",
		"Database checks":          "is not a schedule",
		"Daily (Monday)":           `a weekday in parentheses refines "weekly"`,
		"Weekly (Mon or Fri)":      "more than one weekday",
		"Daily (morning, 10:00)":   "more than one time of day",
		"Daily (25:00)":            "not a time of day",
		"Daily (morning) at 10:00": "more than one time of day",
		// Outside a file there is no file schedule for "continuous" to mean.
		"Continuous (every heartbeat)": "the file's own schedule",
		"Continuous":                   "the file's own schedule",
		"Checks (each heartbeat)":      "the file's own schedule",
		// Continuous as one word of a title is free text.
		"Continuous integration": "is not a schedule",
	}
	for text, want := range tests {
		_, err := ParseSchedule(text, time.UTC)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSchedule(%q) = %v, want error containing %q", text, err, want)
		}
	}
}

func TestActiveHours(t *testing.T) {
	ber := mustLoc(t, "Europe/Berlin")
	day, err := parseActiveHours("08:00-20:00", ber)
	if err != nil {
		t.Fatal(err)
	}
	night, err := parseActiveHours("22:00 - 06:30", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m int, loc *time.Location) time.Time { return time.Date(2026, 6, 1, h, m, 0, 0, loc) }
	cases := []struct {
		a    *ActiveHours
		t    time.Time
		want bool
	}{
		{day, at(8, 0, ber), true},
		{day, at(19, 59, ber), true},
		{day, at(20, 0, ber), false},
		{day, at(7, 59, ber), false},
		{day, at(7, 0, time.UTC), true}, // 09:00 in Berlin (CEST)
		{night, at(23, 0, time.UTC), true},
		{night, at(6, 29, time.UTC), true},
		{night, at(6, 30, time.UTC), false},
		{night, at(12, 0, time.UTC), false},
		{nil, at(3, 0, time.UTC), true},
	}
	for _, c := range cases {
		if got := c.a.Contains(c.t); got != c.want {
			t.Errorf("%v contains %s = %v, want %v", c.a, c.t, got, c.want)
		}
	}
	for _, bad := range []string{"8-20", "08:00-08:00", "25:00-26:00", "08:61-09:00"} {
		if _, err := parseActiveHours(bad, time.UTC); err == nil {
			t.Errorf("active_hours %q accepted", bad)
		}
	}
}

type wantItem struct {
	line     int
	kind     ItemKind
	id       string
	identity string
	spec     string
	section  string
}

func TestParseGoodFile(t *testing.T) {
	for _, name := range []string{"good.md", "good-crlf.md"} {
		t.Run(name, func(t *testing.T) {
			files, err := Load([]string{filepath.Join("testdata", name)}, testCatalog(t))
			if err != nil {
				t.Fatal(err)
			}
			f := files[0]
			if f.Title != "Production heartbeat" || f.Location.String() != "Europe/Berlin" || f.Jitter != 30*time.Second {
				t.Errorf("file settings: title %q loc %v jitter %v", f.Title, f.Location, f.Jitter)
			}
			if f.ActiveHours == nil || f.ActiveHours.String() != "08:00-20:00" {
				t.Errorf("active hours = %v", f.ActiveHours)
			}
			const (
				every5  = "CRON_TZ=Europe/Berlin */5 * * * *"
				every10 = "CRON_TZ=Europe/Berlin */10 * * * *"
				nightly = "CRON_TZ=Europe/Berlin 0 2 * * *"
				hourly  = "CRON_TZ=Europe/Berlin 0 */1 * * *"
			)
			want := []wantItem{
				{10, ItemCheck, "tcp.connect", "addr=db.internal:5432", every10, "Production heartbeat"},
				{13, ItemCheck, "http.status", "expect=200 url=http://127.0.0.1:8080/healthz", every5, "Every 5 minutes"},
				{14, ItemCheck, "tcp.connect", "addr=db.internal:5433", every5, "Every 5 minutes"},
				{15, ItemCheck, "tls.expiry", "addr=example.com:443 warn=14d", every5, "Every 5 minutes"},
				{16, ItemQuestion, "", "", every5, "Every 5 minutes"},
				{18, ItemCheck, "http.status", `contains="say \"hi\"" url="http://127.0.0.1:8080/a b"`, every5, "Every 5 minutes"},
				{21, ItemCheck, "k8s.pods", "context=prod namespace=prod", every5, "Cluster"},
				{22, ItemCheck, "http.status", "expect=2xx url=http://127.0.0.1:9/multi", every5, "Cluster"},
				{27, ItemCheck, "tls.expiry", "addr=internal.example:8443 warn=30d", nightly, "Nightly"},
				{28, ItemCheck, "tcp.connect", "addr=nested.example:22", nightly, "Nightly"},
				{32, ItemTask, "test.scale", "deployment=prod/api replicas=3", "", "Tasks every 1h"},
			}
			if len(f.Items) != len(want) {
				for _, it := range f.Items {
					t.Logf("%d %s %s", it.Line, it.ID, it.Text)
				}
				t.Fatalf("%d items, want %d", len(f.Items), len(want))
			}
			for i, w := range want {
				it := f.Items[i]
				if it.Line != w.line || it.Kind != w.kind || it.ID != w.id || it.Params.Identity() != w.identity || it.Section != w.section {
					t.Errorf("item %d = line %d %s %s %q section %q; want %+v", i, it.Line, it.Kind, it.ID, it.Params.Identity(), it.Section, w)
				}
				if w.spec != "" && it.Schedule.Spec != w.spec {
					t.Errorf("item %d schedule = %q, want %q", i, it.Schedule.Spec, w.spec)
				}
				if it.ActiveHours != f.ActiveHours || it.Jitter != f.Jitter || len(it.Key) != 16 {
					t.Errorf("item %d: file settings not copied: %+v", i, it)
				}
			}
			if got := f.Items[2].Params.Get("timeout"); got != "3s" {
				t.Errorf("timeout = %q", got)
			}
			if got := f.Items[4].Text; got != "Is the public API healthy?" {
				t.Errorf("question text = %q", got)
			}
			if got := f.Items[10].Schedule.Text; got != "Tasks every 1h" {
				t.Errorf("task schedule text = %q", got)
			}
			if len(f.Notices) != 1 || !strings.Contains(f.Notices[0].Error(), name+":16: not routed yet") {
				t.Errorf("notices = %v", f.Notices)
			}
		})
	}
}

func TestCRLFSameAsLF(t *testing.T) {
	cat := testCatalog(t)
	lf, err1 := Load([]string{"testdata/good.md"}, cat)
	crlf, err2 := Load([]string{"testdata/good-crlf.md"}, cat)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for i := range lf[0].Items {
		a, b := lf[0].Items[i], crlf[0].Items[i]
		if a.Line != b.Line || a.Text != b.Text || a.Params.Identity() != b.Params.Identity() {
			t.Errorf("item %d differs: %+v vs %+v", i, a, b)
		}
	}
}

func TestBrokenFileReportsEveryProblem(t *testing.T) {
	_, err := Load([]string{"testdata/broken.md"}, testCatalog(t))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v is not Errors", err)
	}
	want := []string{
		`testdata/broken.md:2: front matter timezone: unknown time zone "Mars/Olympus"; use an IANA name such as Europe/Berlin, America/New_York or UTC`,
		`testdata/broken.md:3: front matter active_hours: "8-20" is not HH:MM-HH:MM`,
		`testdata/broken.md:4: unknown front matter key "colour"; valid keys: active_hours, evening, jitter, kube_context, morning, notify, schedule, timeout, timezone`,
		`testdata/broken.md:8: heading "Every fortnight": cannot read the schedule after "every"`,
		`testdata/broken.md:9: unknown check "http.stats"; did you mean http.status`,
		`testdata/broken.md:10: http.status: parameter expect: ... placeholder`,
		`testdata/broken.md:10: http.status: parameter url: "ftp://x/" is not an absolute http:// or https:// URL`,
		`testdata/broken.md:11: http.status: parameter url: http.status needs url=<url> (URL)`,
		`testdata/broken.md:12: unexpected "also": parameters are key=value`,
		`testdata/broken.md:13: parameter url: unterminated quoted value`,
		`testdata/broken.md:15: heading "Nightly ` + "`61 2 * * *`" + `": cron spec "61 2 * * *"`,
		`testdata/broken.md:19: tcp.connect is a check, not a write task: move it out of the Tasks section`,
		`testdata/broken.md:20: plain text in a Tasks section`,
		`testdata/broken.md:24: same check and parameters as line 23`,
	}
	// expect=abc is validated by http.status's own Validate in the real probe; the fake
	// spec has none, so line 10 carries only the url problem.
	want = append(want[:5], want[6:]...)
	wantDiagnostics(t, errs, want)
}

// wantDiagnostics requires errs, in order, to start with the wanted messages.
func wantDiagnostics(t *testing.T, errs Errors, want []string) {
	t.Helper()
	if len(errs) != len(want) {
		t.Errorf("%d diagnostics, want %d:\n%v", len(errs), len(want), errs)
	}
	for i := 0; i < len(errs) && i < len(want); i++ {
		if !strings.HasPrefix(errs[i].Error(), want[i]) {
			t.Errorf("diagnostic %d:\n got %s\nwant %s…", i, errs[i].Error(), want[i])
		}
	}
}

func TestItemParamErrors(t *testing.T) {
	tests := []struct {
		item string
		want string
	}{
		{"`tcp.connect` addr=db:5432 bogus=1", `tcp.connect: parameter bogus: tcp.connect has no parameter "bogus"; valid parameters: addr, timeout`},
		{"`tcp.connect` addr=db", `not host:port`},
		{"`tcp.connect` addr=db:5432 addr=db:5433", "parameter addr is given twice"},
		{"`tcp.connect` addr=\"db:5432\"x", "put a space after the closing quote"},
		{"`tcp.connect` =5", `unexpected "=5"`},
		{"`tcp.connect` addr=db:1 timeout=soon", `parameter timeout: "soon" is not a duration`},
		{"`test.scale` deployment=a/b replicas=many", `"many" is not a whole number`},
		{"`nothing`", `unknown check "nothing"`},
		{"``tcp.connect", "unclosed"},
	}
	for _, tt := range tests {
		_, err := Parse("HB.md", []byte("## Hourly\n- "+tt.item+"\n"), testCatalog(t))
		if err == nil || !strings.Contains(err.Error(), "HB.md:2: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want HB.md:2: …%s", tt.item, err, tt.want)
		}
	}
}

func TestPlainInlineCodeIsAQuestion(t *testing.T) {
	f, err := Parse("HB.md", []byte("- `kubectl get pods` shows all pods running?\n"), testCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Items) != 1 || f.Items[0].Kind != ItemQuestion {
		t.Errorf("items = %+v", f.Items)
	}
}

func TestIdentity(t *testing.T) {
	cat := testCatalog(t)
	parse := func(src string) []Item {
		t.Helper()
		f, err := Parse("HB.md", []byte(src), cat)
		if err != nil {
			t.Fatal(err)
		}
		return f.Items
	}
	a := parse("## Hourly\n- `tcp.connect` addr=db:1\n")[0]
	moved := parse("# Title\n\nintro\n\n## Daily at 09:00\n- `http.status` url=http://x/\n- `tcp.connect`   addr=db:1 timeout=5s\n")[1]
	if a.Key != moved.Key {
		t.Error("moving the item, changing its schedule or its timeout changed its key")
	}
	if changed := parse("- `tcp.connect` addr=db:2\n")[0]; changed.Key == a.Key {
		t.Error("changing what is checked kept the key")
	}
	other, err := Parse("other/HB.md", []byte("- `tcp.connect` addr=db:1\n"), cat)
	if err != nil || other.Items[0].Key == a.Key {
		t.Errorf("the same item in another file has the same key (%v)", err)
	}
	q1 := parse("- Is  the API up?\n")[0]
	q2 := parse("## x\n\n- is the api UP?\n")[0]
	if q1.Key != q2.Key {
		t.Error("question keys depend on case or spacing")
	}
}

func TestDuplicateAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "HB.md")
	if err := os.WriteFile(path, []byte("- `tcp.connect` addr=a:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load([]string{path, path}, testCatalog(t))
	if err == nil || !strings.Contains(err.Error(), "the same item is already at "+path+":1") {
		t.Errorf("error = %v", err)
	}
}

func TestHostileInput(t *testing.T) {
	cat := testCatalog(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "big.md")
	if err := os.WriteFile(big, []byte(strings.Repeat("- `tcp.connect` addr=a:1\n", 10<<20/25)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load([]string{big}, cat)
	if err == nil || !strings.Contains(err.Error(), "over the 2 MiB limit") || !strings.Contains(err.Error(), "split it") {
		t.Errorf("10 MB file: %v", err)
	}
	_, err = Load([]string{filepath.Join(dir, "missing.md")}, cat)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	_, err = Load([]string{dir}, cat)
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}

	tests := map[string]struct {
		src  string
		want string // "" = parses
	}{
		"NUL byte":            {"# x\n- a\x00b\n", "HB.md:2: not a text file"},
		"invalid UTF-8":       {"# x\n\n\xff\xfe garbage\n", "HB.md:3: not valid UTF-8"},
		"deep nesting":        {"# x\n" + strings.Repeat("- ", 10000) + "x\n", "HB.md:2: nested more than"},
		"deep quotes":         {strings.Repeat(">", 5000) + " x\n", "nested more than"},
		"moderate nesting":    {nestedList(60), ""},
		"empty":               {"", ""},
		"only front matter":   {"---\ntimezone: UTC\n---\n", ""},
		"unclosed front":      {"---\ntimezone: UTC\n# x\n", "HB.md:1: front matter starts with --- but has no closing"},
		"front matter list":   {"---\n- a\n- b\n---\n", "front matter must be key: value"},
		"front matter nested": {"---\nschedule:\n  every: 5m\n---\n", "HB.md:2: front matter schedule: want a single value"},
		"bad yaml":            {"---\ntimezone: [\n---\n", "front matter is not valid YAML"},
		"empty items":         {"- \n-\n* [ ]\n", ""},
		"html and tables":     {"<div>\n- `tcp.connect` addr=a:1\n</div>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("HB.md", []byte(tt.src), cat)
			if tt.want == "" {
				if err != nil {
					t.Errorf("error = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// nestedList is a list nested depth levels deep, each level one more indent.
func nestedList(depth int) string {
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, "%s- level %d\n", strings.Repeat("  ", i), i)
	}
	return b.String()
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"good.md", "good-crlf.md", "broken.md", "openclaw.md", "openclaw-tasks.md", "openclaw-tasks-broken.md"} {
		src, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"", "---\n", "---\n---\n", "- `", "- ``", "- `tcp.connect` addr=\"", "## every `", "## `@every 0s`",
		"- `tcp.connect` addr=a:1 x=\"\\", "\r\r\n\r", "> - `tcp.connect` addr=a:1", "## Tasks\n  - `test.scale`",
		"## daily at 99:99\n- x", "---\nactive_hours: 23:59-00:00\n---\n",
		"## Weekly (Mon Tue)\n- x", "## Daily (morning\n- x", "## Continuous\n- x", "---\nmorning: 7:5\n---\n",
		"tasks:\n- name:\n", "tasks:\n- name: a\n  interval: 0s\n  prompt: b\n", "tasks:\n- prompt: [\n", "> tasks:\n> - name: a\n",
	} {
		f.Add([]byte(s))
	}
	cat := testCatalog(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.md", src, cat)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a non-empty Errors: %v", err)
			}
			for _, d := range errs {
				if d.Line < 0 {
					t.Fatalf("negative line in %v", d)
				}
			}
			return
		}
		for _, it := range file.Items {
			if it.Line < 1 || it.Key == "" || it.Kind == 0 {
				t.Fatalf("bad item %+v", it)
			}
			if it.Kind != ItemQuestion && it.Schedule.Next(time.Now()).IsZero() {
				t.Fatalf("item without a schedule: %+v", it)
			}
		}
	})
}

func BenchmarkParse1000(b *testing.B) {
	var src strings.Builder
	src.WriteString("---\ntimezone: Europe/Berlin\n---\n# Bench\n")
	for i := range 1000 {
		if i%50 == 0 {
			fmt.Fprintf(&src, "\n## Every %d minutes\n", 1+i/50)
		}
		switch i % 3 {
		case 0:
			fmt.Fprintf(&src, "- `http.status` url=http://10.0.%d.%d:8080/healthz expect=200\n", i/256, i%256)
		case 1:
			fmt.Fprintf(&src, "- `tcp.connect` addr=db-%d.internal:5432 timeout=3s\n", i)
		default:
			fmt.Fprintf(&src, "- `tls.expiry` addr=svc-%d.example.com:443 warn=14d\n", i)
		}
	}
	data := []byte(src.String())
	cat := testCatalog(b)
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			f, err := Parse("bench.md", data, cat)
			if err != nil || len(f.Items) != 1000 {
				b.Fatalf("%v, %d items", err, len(f.Items))
			}
		}
	})
	// Baseline: goldmark's default markdown parse of the same bytes, nothing else.
	b.Run("goldmark-baseline", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		md := goldmark.New()
		for b.Loop() {
			md.Parser().Parse(text.NewReader(data))
		}
	})
}
