package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var params = []string{"ca", "context", "endpoint", "insecure", "profile"}

func TestParse(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte(`
agents:
  destinations: [127.0.0.1/32, 10.1.2.3/16, "::1", "::ffff:192.168.0.0/112"]
  params:
    context: [kind-dev]
    insecure: [true]
`), params)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range cfg.Agents.Reach.Allow {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "127.0.0.1/32 10.1.0.0/16 ::1/128 192.168.0.0/16" {
		t.Errorf("destinations = %v", got)
	}
	if v := cfg.Agents.Values; len(v) != 2 || v["context"][0] != "kind-dev" || v["insecure"][0] != "true" {
		t.Errorf("params = %v", v)
	}
	if cfg.Agents.Reach.Source != "config.yaml" {
		t.Errorf("policy: %+v", cfg.Agents)
	}
	if err := cfg.Agents.Reach.Check(netip.MustParseAddrPort("10.1.200.1:22")); err != nil {
		t.Errorf("an allowed network is refused: %v", err)
	}
}

// TestParseErrors: every problem, with its line, and what to write.
func TestParseErrors(t *testing.T) {
	_, err := Parse("/etc/c.yaml", []byte(`agents:
  destinations: [10.0.0.0/33, localhost]
  destination: [127.0.0.1]
  params:
    contxt: [kind-dev]
    profile: readonly
agent: {}
`), params)
	want := []string{
		`/etc/c.yaml:2: agents.destinations: "10.0.0.0/33" is not a network or an IP address`,
		`/etc/c.yaml:2: agents.destinations: "localhost" is not a network`,
		"/etc/c.yaml:3: agents.destination: unknown key; valid keys: destinations, params",
		`/etc/c.yaml:5: agents.params.contxt: agents need no value allowed for "contxt"`,
		"are ca, context, endpoint, insecure, profile",
		"/etc/c.yaml:6: agents.params.profile: want a list",
		"/etc/c.yaml:7: agent: unknown key",
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("errors do not say %q:\n%v", w, err)
		}
	}
}

func TestLoadMissingIsDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	cfg, err := Load(path, params)
	if err != nil || len(cfg.Agents.Reach.Allow) != 0 || len(cfg.Agents.Values) != 0 || cfg.Agents.Reach.Source != path {
		t.Fatalf("missing file: %+v %v", cfg, err)
	}
	if err := os.WriteFile(path, []byte("agents: {destinations: [127.0.0.0/8]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := Load(path, params); err != nil || len(cfg.Agents.Reach.Allow) != 1 {
		t.Errorf("file: %+v %v", cfg, err)
	}
}
