package main

import (
	"strings"
	"testing"
)

func TestConfirm(t *testing.T) {
	for input, want := range map[string]bool{"y\n": true, "YES\n": true, " yes \n": true, "n\n": false, "\n": false, "": false, "sure\n": false} {
		var prompt strings.Builder
		a := &cmdline{stdin: strings.NewReader(input), stderr: &prompt}
		got, err := a.confirm("Apply? [y/N] ")
		if err != nil || got != want {
			t.Errorf("confirm(%q) = %v, %v; want %v", input, got, err, want)
		}
		if prompt.String() != "Apply? [y/N] " {
			t.Errorf("prompt went to %q", prompt.String())
		}
	}
	// A pipe is not a terminal: approve refuses without --yes.
	if (&cmdline{stdin: strings.NewReader("")}).stdinIsTerminal() {
		t.Error("a reader counts as a terminal")
	}
}
