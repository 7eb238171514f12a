package notify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
)

var testEnv = Env{Getenv: func(k string) string {
	return map[string]string{
		"HOOK_URL":    "https://hooks.example.com/T0/SECRETTOKEN",
		"HOOK_SECRET": "s3cret",
		"BAD_URL":     "ftp://SECRETTOKEN@example.com",

		"CLANKERD_HOOK_URL":    "https://hooks.example.com/T1/SECRETTOKEN",
		"CLANKERD_HOOK_SECRET": "clankerd-s3cret",
	}[k]
}}

func TestParseFile(t *testing.T) {
	cfg, err := ParseFile("notify.yaml", []byte(`
delivery:
  max_age: 12h
  retry_initial: 1s
targets:
  - name: ops
    type: webhook
    url_env: HOOK_URL
    secret_env: HOOK_SECRET
    min_severity: medium
    rate_limit: 10/1h
  - name: team
    type: slack
    url: https://hooks.slack.example/services/T0/B0/XYZ
  - name: me
    type: desktop
  - name: pager
    type: command
    command: [/usr/local/bin/page, --team, ops]
`), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Policy.MaxAge != 12*time.Hour || cfg.Policy.RetryInitial != time.Second || cfg.Policy.RetryMax != DefaultPolicy.RetryMax {
		t.Errorf("policy = %+v", cfg.Policy)
	}
	if len(cfg.Destinations) != 4 {
		t.Fatalf("destinations = %+v", cfg.Destinations)
	}
	ops := cfg.Destinations[0]
	w, ok := ops.Target.(*Webhook)
	if !ok || string(w.Secret) != "s3cret" || w.URL != "https://hooks.example.com/T0/SECRETTOKEN" || ops.MinSeverity != checks.Medium ||
		ops.RateLimit != (RateLimit{N: 10, Per: time.Hour}) || ops.Where != "https://hooks.example.com/… (signed)" || ops.Source != "notify.yaml:6" || ops.Items != nil {
		t.Errorf("ops = %+v", ops)
	}
	if cfg.Destinations[1].Where != "https://hooks.slack.example/…" {
		t.Errorf("slack target shown as %q", cfg.Destinations[1].Where)
	}
	if c, ok := cfg.Destinations[3].Target.(*Command); !ok || strings.Join(c.Argv, " ") != "/usr/local/bin/page --team ops" {
		t.Errorf("command = %+v", cfg.Destinations[3].Target)
	}
}

func TestConfigErrors(t *testing.T) {
	src := `delivery:
  retry_max: 1s
  retry_initial: 5s
  colour: red
targets:
  - name: a b
    type: pigeon
  - type: webhook
    url: https://x.example/
  - name: s
    type: slack
  - name: w
    type: webhook
    url: https://x.example/
    url_env: HOOK_URL
  - name: w2
    type: webhook
    url_env: MISSING_URL
    secret_env: MISSING_SECRET
  - name: w3
    type: webhook
    url_env: BAD_URL
  - name: c
    type: command
    command: run-me
  - name: d
    type: desktop
    url: https://x.example/
    min_severity: urgent
    rate_limit: lots
  - name: e
    type: slack
    url_env: lower-case-is-not-ok!
`
	_, err := ParseFile("n.yaml", []byte(src), testEnv)
	want := []string{
		"n.yaml:2: delivery.retry_max: 1s is shorter than retry_initial 5s",
		"n.yaml:4: delivery.colour: unknown key; valid keys: max_age, retry_initial, retry_max, timeout",
		`n.yaml:6: name: "a b": use letters, digits, '.', '_' and '-'`,
		`n.yaml:7: type: "pigeon": use one of command, desktop, slack, webhook`,
		"n.yaml:8: name: every target needs a name",
		"n.yaml:10: url: a slack target needs url or url_env",
		"n.yaml:15: url_env: give url or url_env, not both",
		"n.yaml:18: url_env: $MISSING_URL is empty or not set",
		"n.yaml:19: secret_env: $MISSING_SECRET is empty or not set",
		"n.yaml:22: url_env: not an http or https URL",
		"n.yaml:25: command: want a list: [PROGRAM, ARG...]",
		"n.yaml:28: url: a desktop target takes no url",
		`n.yaml:29: min_severity: unknown severity "urgent"`,
		`n.yaml:30: rate_limit: "lots": write N/DURATION`,
		`n.yaml:33: url_env: "lower-case-is-not-ok!" is not an environment variable name`,
	}
	var errs heartbeat.Errors
	if err == nil {
		t.Fatal("no error")
	}
	errs = err.(heartbeat.Errors)
	text := err.Error()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("errors lack %q", w)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(errs), len(want), text)
	}
	if strings.Contains(text, "SECRETTOKEN") {
		t.Errorf("an error shows a secret:\n%s", text)
	}
}

func TestFromHeartbeatAndMerge(t *testing.T) {
	f := loadHeartbeat(t, "---\ntimezone: UTC\nnotify:\n  - name: team\n    type: slack\n    url_env: CLANKERD_HOOK_URL\n    min_severity: high\n---\n## Hourly\n- `test.check` x=1\n")
	dests, err := FromHeartbeat(f, testEnv)
	if err != nil || len(dests) != 1 {
		t.Fatalf("FromHeartbeat = %+v, %v", dests, err)
	}
	team := dests[0]
	if team.Source != f.Path+":4" || !team.Wants(f.Items[0].Key) || team.Wants("other") || !team.Wants(f.Items[0].Key+"/fix/abc") {
		t.Errorf("team = %+v", team)
	}
	global, _ := ParseFile("notify.yaml", []byte("targets:\n  - name: team\n    type: desktop\n"), testEnv)
	merged, err := Merge(global.Destinations, dests)
	if len(merged) != 1 || err == nil || !strings.Contains(err.Error(), f.Path+`:4: name: target "team" is already declared at notify.yaml:2`) {
		t.Errorf("Merge = %+v, %v", merged, err)
	}

	// A heartbeat file may not make the daemon run programs.
	f = loadHeartbeat(t, "---\nnotify:\n  - name: x\n    type: command\n    command: [/bin/true]\n---\n## Hourly\n- `test.check` x=1\n")
	if _, err := FromHeartbeat(f, testEnv); err == nil || !strings.Contains(err.Error(), f.Path+":4: type: command targets run programs, so they are allowed only in notify.yaml") {
		t.Errorf("a command target in front matter: %v", err)
	}

	// A broken notify: in front matter is reported at its file line.
	f = loadHeartbeat(t, "---\nnotify:\n  - name: x\n    type: slack\n---\n## Hourly\n- `test.check` x=1\n")
	if _, err := FromHeartbeat(f, testEnv); err == nil || !strings.Contains(err.Error(), f.Path+":3: url: a slack target needs url or url_env") {
		t.Errorf("broken front matter: %v", err)
	}
}

func TestLoadFileMissingIsEmpty(t *testing.T) {
	cfg, err := LoadFile(filepath.Join(t.TempDir(), "notify.yaml"), testEnv)
	if err != nil || len(cfg.Destinations) != 0 || cfg.Policy != DefaultPolicy {
		t.Errorf("LoadFile of a missing file = %+v, %v", cfg, err)
	}
}

// specCheck is a check with one parameter, for heartbeat files in tests.
type specCheck struct{}

func (specCheck) Spec() checks.Spec {
	return checks.Spec{ID: "test.check", Params: []checks.ParamSpec{{Name: "x", Type: checks.String}}}
}

func (specCheck) Run(context.Context, checks.Params) (checks.Result, error) {
	return checks.Result{}, nil
}

func TestSkipLookupChecksStructureOnly(t *testing.T) {
	src := "targets:\n  - name: ops\n    type: webhook\n    url_env: NOT_SET\n    secret_env: NOT_SET_EITHER\n  - name: bad\n    type: webhook\n    url_env: bad-name\n"
	_, err := ParseFile("n.yaml", []byte(src), Env{SkipLookup: true})
	if err == nil || strings.Contains(err.Error(), "NOT_SET") || !strings.Contains(err.Error(), `n.yaml:8: url_env: "bad-name" is not an environment variable name`) {
		t.Errorf("ParseFile with SkipLookup: %v", err)
	}
}

// loadHeartbeat writes src to a heartbeat file and parses it.
func loadHeartbeat(t *testing.T, src string) *heartbeat.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "HB.md")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := checks.NewRegistry()
	if err := reg.AddCheck(specCheck{}); err != nil {
		t.Fatal(err)
	}
	files, err := heartbeat.Load([]string{path}, reg)
	if err != nil {
		t.Fatal(err)
	}
	return files[0]
}

// A heartbeat file may be shared: the variables it names must start with CLANKERD_,
// or any variable of the daemon's environment could be sent out (as the URL) or
// offered up to offline cracking (as the HMAC key of a body the attacker receives).
func TestHeartbeatMayNameOnlyClankerdVariables(t *testing.T) {
	f := loadHeartbeat(t, "---\nnotify:\n  - name: leak\n    type: webhook\n    url: https://attacker.example/\n    secret_env: HOOK_SECRET\n  - name: leak2\n    type: slack\n    url_env: HOOK_URL\n---\n## Hourly\n- `test.check` x=1\n")
	for _, env := range []Env{testEnv, {SkipLookup: true}} {
		dests, err := FromHeartbeat(f, env)
		for _, want := range []string{
			f.Path + ":6: secret_env: a heartbeat file, which may be shared, may only name variables starting with CLANKERD_; rename $HOOK_SECRET to CLANKERD_HOOK_SECRET, or define the target in notify.yaml and name it here",
			f.Path + ":9: url_env: a heartbeat file, which may be shared, may only name variables starting with CLANKERD_; rename $HOOK_URL to CLANKERD_HOOK_URL",
		} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("FromHeartbeat error lacks %q: %v", want, err)
			}
		}
		if len(dests) != 0 {
			t.Errorf("targets built with a refused variable: %+v", dests)
		}
	}

	f = loadHeartbeat(t, "---\nnotify:\n  - name: ok\n    type: webhook\n    url_env: CLANKERD_HOOK_URL\n    secret_env: CLANKERD_HOOK_SECRET\n---\n## Hourly\n- `test.check` x=1\n")
	dests, err := FromHeartbeat(f, testEnv)
	if err != nil || len(dests) != 1 {
		t.Fatalf("FromHeartbeat with CLANKERD_ variables = %+v, %v", dests, err)
	}
	if w, ok := dests[0].Target.(*Webhook); !ok || string(w.Secret) != "clankerd-s3cret" {
		t.Errorf("webhook = %+v", dests[0].Target)
	}

	// notify.yaml is the operator's: it names any variable.
	if _, err := ParseFile("notify.yaml", []byte("targets:\n  - name: ops\n    type: webhook\n    url_env: HOOK_URL\n    secret_env: HOOK_SECRET\n"), testEnv); err != nil {
		t.Errorf("notify.yaml with any variable: %v", err)
	}
}

// A heartbeat file names a notify.yaml target to send its news there; a target of
// scope named gets only the news of the files that name it.
func TestHeartbeatNamesNotifyYAMLTarget(t *testing.T) {
	global, err := ParseFile("notify.yaml", []byte("targets:\n  - name: ops\n    type: webhook\n    url_env: HOOK_URL\n    secret_env: HOOK_SECRET\n    scope: named\n  - name: all\n    type: desktop\n    scope: all\n"), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if global.Destinations[0].Wants("any-item") || !global.Destinations[1].Wants("any-item") {
		t.Errorf("scopes: %+v", global.Destinations)
	}
	f := loadHeartbeat(t, "---\nnotify:\n  - ops\n  - all\n  - nowhere\n  - bad name\n---\n## Hourly\n- `test.check` x=1\n")
	refs, err := FromHeartbeat(f, testEnv)
	if err == nil || !strings.Contains(err.Error(), f.Path+`:6: notify: "bad name": name a notify.yaml target`) {
		t.Errorf("FromHeartbeat = %v", err)
	}
	merged, err := Merge(global.Destinations, refs[:3])
	if err == nil || !strings.Contains(err.Error(), f.Path+`:5: notify: no target "nowhere" in notify.yaml; define it there`) || len(merged) != 2 {
		t.Fatalf("Merge = %+v, %v", merged, err)
	}
	item := f.Items[0].Key
	if !merged[0].Wants(item) || !merged[0].Wants(item+"/fix/abc") || merged[0].Wants("other") || !merged[1].Wants("other") {
		t.Errorf("ops after the reference = %+v", merged[0])
	}
	if global.Destinations[0].Wants(item) {
		t.Error("Merge changed the destinations it was given")
	}

	if _, err := FromHeartbeat(loadHeartbeat(t, "---\nnotify:\n  - name: x\n    type: desktop\n    scope: named\n---\n## Hourly\n- `test.check` x=1\n"), testEnv); err == nil || !strings.Contains(err.Error(), ":5: scope: only a notify.yaml target has a scope") {
		t.Errorf("scope in front matter: %v", err)
	}
	if _, err := ParseFile("n.yaml", []byte("targets:\n  - name: x\n    type: desktop\n    scope: some\n"), testEnv); err == nil || !strings.Contains(err.Error(), `n.yaml:4: scope: "some": use all`) {
		t.Errorf("a bad scope: %v", err)
	}
}
