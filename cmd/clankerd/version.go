package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/clankerd/clankerd/internal/view"
	"github.com/spf13/cobra"
)

func (a *cmdline) versionCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			v := map[string]string{"version": version, "go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH}
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						v["commit"] = s.Value
					}
				}
			}
			if output == "json" {
				return view.WriteJSON(a.stdout, v)
			}
			fmt.Fprintf(a.stdout, "clankerd %s (%s, %s)\n", v["version"], v["go"], v["platform"])
			return nil
		},
	}
	outputFlag(cmd, &output, "text", "json")
	return cmd
}
