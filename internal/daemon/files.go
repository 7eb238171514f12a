package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// isDir reports whether path is a directory (following symlinks).
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// heartbeatFiles lists the heartbeat files of the --heartbeat entries: a file as it
// is, a directory as the *.md files in it, in name order (a ConfigMap mounted as a
// volume: one file per key). Names starting with "." are left out: the kubelet keeps
// its own "..data" and "..TIMESTAMP" entries there. A directory that cannot be read
// keeps the files it had last time (prev), and its problem is returned.
func heartbeatFiles(entries []string, prev map[string][]string) (files []string, byEntry map[string][]string, problems []string) {
	byEntry = map[string][]string{}
	for _, e := range entries {
		if !isDir(e) {
			byEntry[e] = []string{e}
			files = append(files, e)
			continue
		}
		list, err := mdFiles(e)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v (the files read from it last time keep running)", e, err))
			list = prev[e]
		}
		byEntry[e] = list
		files = append(files, list...)
	}
	return files, byEntry, problems
}

// mdFiles lists the *.md files in dir, in name order.
func mdFiles(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".md") {
			continue
		}
		p := filepath.Join(dir, name)
		if isDir(p) {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}
