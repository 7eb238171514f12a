package main

import (
	"bufio"
	"encoding/xml"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The daemon units must start a command line this CLI accepts: `clankerd run` with
// flags that parse.
func TestDaemonUnitsRunTheCLI(t *testing.T) {
	systemd := systemdExecStart(t, filepath.Join("..", "..", "contrib", "systemd", "clankerd.service"))
	launchd := plistProgramArguments(t, filepath.Join("..", "..", "contrib", "launchd", "com.github.clankerd.clankerd.plist"))
	for name, argv := range map[string][]string{"systemd": systemd, "launchd": launchd} {
		t.Run(name, func(t *testing.T) {
			if len(argv) < 2 || filepath.Base(argv[0]) != "clankerd" {
				t.Fatalf("command line %q does not start clankerd", argv)
			}
			a := &cmdline{stdout: &strings.Builder{}, stderr: &strings.Builder{}}
			root := a.rootCommand()
			cmd, rest, err := root.Find(argv[1:])
			if err != nil {
				t.Fatalf("%q: %v", argv, err)
			}
			if cmd.Name() != "run" {
				t.Fatalf("%q runs %q, want the daemon (run)", argv, cmd.Name())
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Fatalf("%q: flags do not parse: %v", argv, err)
			}
			if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
				t.Fatalf("%q: %v", argv, err)
			}
		})
	}
}

func systemdExecStart(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	section := ""
	var execStart []string
	restart := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: malformed line %q", path, line)
			}
			switch key {
			case "ExecStart":
				execStart = strings.Fields(value)
			case "Restart":
				restart = value
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if restart != "on-failure" {
		t.Errorf("%s: Restart=%q, want on-failure", path, restart)
	}
	return execStart
}

type plistValue struct {
	XMLName  xml.Name
	Text     string       `xml:",chardata"`
	Children []plistValue `xml:",any"`
}

func plistProgramArguments(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Dict plistValue `xml:"dict"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: not a valid plist: %v", path, err)
	}
	entries := map[string]plistValue{}
	kids := doc.Dict.Children
	for i := 0; i+1 < len(kids); i += 2 {
		if kids[i].XMLName.Local != "key" {
			t.Fatalf("%s: expected <key>, got <%s>", path, kids[i].XMLName.Local)
		}
		entries[kids[i].Text] = kids[i+1]
	}
	if label := entries["Label"].Text; !strings.HasSuffix(label, ".clankerd") {
		t.Errorf("%s: Label %q, want a reverse-DNS name ending in .clankerd", path, label)
	}
	if entries["RunAtLoad"].XMLName.Local != "true" {
		t.Errorf("%s: RunAtLoad is not true", path)
	}
	keep := entries["KeepAlive"]
	if len(keep.Children) != 2 || keep.Children[0].Text != "SuccessfulExit" || keep.Children[1].XMLName.Local != "false" {
		t.Errorf("%s: KeepAlive should restart on failure (SuccessfulExit false)", path)
	}
	if !strings.Contains(entries["StandardErrorPath"].Text, "Library/Logs") {
		t.Errorf("%s: logs should go to ~/Library/Logs", path)
	}
	var argv []string
	for _, s := range entries["ProgramArguments"].Children {
		argv = append(argv, s.Text)
	}
	return argv
}

// TestExamplesLint: every example heartbeat is valid, when the build links the
// provider the example is about.
func TestExamplesLint(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.md"))
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	needs := map[string]string{"aws.HEARTBEAT.md": "AWS", "kubernetes.HEARTBEAT.md": "Kubernetes", "github.HEARTBEAT.md": "GitHub"}
	for _, f := range files {
		if name, ok := needs[filepath.Base(f)]; ok && !providerLinked(t, name) {
			t.Logf("%s: not linted, this build leaves the %s provider out", f, name)
			continue
		}
		if r := cli(t, t.TempDir(), "lint", f); r.code != 0 || !strings.Contains(r.stdout, "valid") {
			t.Errorf("lint %s: exit %d\n%s%s", f, r.code, r.stdout, r.stderr)
		}
	}
}

// TestReadmeLayoutMatchesTree: every Go package of the tree is in the README's layout
// table (or under a folder the table lists with a trailing slash), and every path the
// table lists exists.
func TestReadmeLayoutMatchesTree(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(readme), "## Layout")
	listed := map[string]bool{}
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| `") {
			listed[strings.Trim(strings.SplitN(line, "|", 3)[1], " `")] = true
		}
	}
	for path := range listed {
		if _, err := os.Stat(filepath.Join(root, path)); err != nil {
			t.Errorf("the README's layout lists %s, which does not exist", path)
		}
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if goFiles, _ := filepath.Glob(filepath.Join(p, "*.go")); len(goFiles) == 0 {
			return nil
		}
		for dir := rel; dir != "."; dir = filepath.Dir(dir) {
			if listed[dir] || dir != rel && listed[dir+"/"] {
				return nil
			}
		}
		t.Errorf("package %s is not in the README's layout table", rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
