package github

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// findToken finds the token the gh CLI would use for host: for github.com GH_TOKEN,
// then GITHUB_TOKEN; for any other host (GitHub Enterprise Server, or the API URL of
// a stand-in) GH_ENTERPRISE_TOKEN, then GITHUB_ENTERPRISE_TOKEN; then the
// oauth_token stored for the host in gh's hosts.yml (GH_CONFIG_DIR, else
// $XDG_CONFIG_HOME/gh, else ~/.config/gh). It returns "" when there is none, and
// says where the token came from, never the token.
func findToken(getenv func(string) string, host string) (token, source string, err error) {
	vars := []string{"GH_TOKEN", "GITHUB_TOKEN"}
	if host != "github.com" {
		vars = []string{"GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"}
	}
	for _, v := range vars {
		if t := getenv(v); t != "" {
			return t, v, nil
		}
	}
	file := ghHostsFile(getenv)
	if file == "" {
		return "", "", nil
	}
	t, err := hostsToken(file, host)
	if err != nil {
		return "", "", err
	}
	if t == "" {
		return "", "", nil
	}
	return t, file, nil
}

// ghHostsFile is where gh keeps its hosts.yml; "" when no home is known.
func ghHostsFile(getenv func(string) string) string {
	if d := getenv("GH_CONFIG_DIR"); d != "" {
		return filepath.Join(d, "hosts.yml")
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "gh", "hosts.yml")
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		home = h
	}
	return filepath.Join(home, ".config", "gh", "hosts.yml")
}

// hostEntry is one host of gh's hosts.yml: the active user's token, and the tokens
// of every user logged in (gh 2.40 and later).
type hostEntry struct {
	OAuthToken string `yaml:"oauth_token"`
	User       string `yaml:"user"`
	Users      map[string]struct {
		OAuthToken string `yaml:"oauth_token"`
	} `yaml:"users"`
}

// hostsToken reads the token stored for host in gh's hosts.yml; "" when the file or
// the host is not there, or gh keeps the token in the system keyring instead.
func hostsToken(file, host string) (string, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading gh's %s: %w", file, err)
	}
	var hosts map[string]hostEntry
	if err := yaml.Unmarshal(b, &hosts); err != nil {
		return "", fmt.Errorf("reading gh's %s: %w; fix the file or run `gh auth login`", file, err)
	}
	e, ok := hosts[host]
	if !ok {
		return "", nil
	}
	if e.OAuthToken != "" {
		return e.OAuthToken, nil
	}
	return e.Users[e.User].OAuthToken, nil
}
