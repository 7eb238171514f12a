package github

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v84/github"

	"github.com/clankerd/clankerd/checks"
)

// permission is what a call needs: the fine-grained token permission and the classic
// token scope (docs/github.md lists them per check).
type permission struct{ fine, classic string }

// The permissions of the calls the provider makes.
var (
	callRepo       = permission{"Metadata: read", "repo (public repositories: none)"}
	callActions    = permission{"Actions: read", "repo (public repositories: none)"}
	callContents   = permission{"Contents: read", "repo (public repositories: none)"}
	callDependabot = permission{"Dependabot alerts: read", "security_events (public repositories: public_repo)"}
	callCode       = permission{"Code scanning alerts: read", "security_events (public repositories: public_repo)"}
	callSecret     = permission{"Secret scanning alerts: read", "security_events or repo (public repositories: public_repo)"}
	callProtection = permission{"Administration: read", "repo"}
	callActionsW   = permission{"Actions: write", "repo and workflow"}
)

// errFeatureOff marks a repository where the feature a check reads is not enabled
// (Dependabot alerts, code scanning, secret scanning): the check skips it.
var errFeatureOff = errors.New("feature not enabled for the repository")

// apiError explains a failed call: which call, what GitHub said, and what to do —
// for a missing permission, its fine-grained and classic names.
func (c *client) apiError(call string, perm permission, err error) error {
	if err == nil {
		return nil
	}
	var rl *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	var limited *RateLimitedError
	var er *gh.ErrorResponse
	var netErr net.Error
	switch {
	case errors.Is(err, checks.ErrDrift):
		return err
	case errors.As(err, &limited):
		return fmt.Errorf("%s: %w", call, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", call, err)
	case errors.As(err, &rl):
		return fmt.Errorf("%s: GitHub's rate limit for this token is spent until %s; run the checks less often or narrow repos=: %w", call, rl.Rate.Reset.UTC().Format("15:04:05 MST"), err)
	case errors.As(err, &abuse):
		return fmt.Errorf("%s: GitHub's secondary rate limit still refused the call after waiting its Retry-After; run fewer checks at once or less often: %w", call, err)
	case errors.As(err, &er) && er.Response != nil:
		status := er.Response.StatusCode
		accepted := er.Response.Header.Get("X-Accepted-GitHub-Permissions")
		scopes := er.Response.Header.Get("X-Accepted-OAuth-Scopes")
		switch status {
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: GitHub rejected the token from %s (401 %s): it expired or was revoked; run `gh auth login --hostname %s` or set a new GH_TOKEN: %w", call, c.source, er.Message, c.host, errors.New(er.Message))
		case http.StatusForbidden:
			if featureOff(er.Message) {
				return errFeatureOff
			}
			return fmt.Errorf("%s: the token from %s may not do this (403 %s): a fine-grained token needs %s, a classic token the scope %s: %w", call, c.source, er.Message, needs(perm.fine, accepted), needs(perm.classic, scopes), errors.New(er.Message))
		case http.StatusNotFound:
			if featureOff(er.Message) {
				return errFeatureOff
			}
			return fmt.Errorf("%s: not found (404): the repository or owner does not exist, or the token from %s cannot see it: a fine-grained token needs access to the repository and %s, a classic token the scope %s: %w", call, c.source, needs(perm.fine, accepted), perm.classic, errNotFound)
		}
		return fmt.Errorf("%s: GitHub answered %d %s: %w", call, status, er.Message, errors.New(er.Message))
	case errors.As(err, &netErr):
		return fmt.Errorf("%s: cannot reach the GitHub API at %s: %w", call, c.api, err)
	}
	return fmt.Errorf("%s: %w", call, err)
}

// errNotFound is matched by the error of a call answered 404.
var errNotFound = errors.New("not found")

func isNotFound(err error) bool { return errors.Is(err, errNotFound) }

// needs names a permission, preferring what GitHub itself said it accepts.
func needs(ours, github string) string {
	if github != "" {
		return github
	}
	return ours
}

// featureOff reports whether GitHub's message says the feature is not enabled for
// the repository: "Dependabot alerts are disabled for this repository.", "Secret
// scanning is disabled on this repository.", "Advanced Security must be enabled
// for this repository to use code scanning.", "no analysis found".
func featureOff(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{"are disabled", "is disabled", "not enabled", "must be enabled", "no analysis found"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
