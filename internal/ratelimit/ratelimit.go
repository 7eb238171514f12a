// Package ratelimit reads the API rate limit left from the runs the store keeps: the
// GitHub provider writes the limit, what is left and when it resets into each run's
// evidence, and the newest run of a `github.*` check for each API and token says where
// that budget stands. `clankerd status` and the Prometheus metrics both show what
// Latest returns, with or without a daemon.
package ratelimit

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clankerd/clankerd/internal/store"
)

// Evidence keys the GitHub provider writes into a run's evidence.
const (
	keyAPI       = "api"
	keyToken     = "token"
	keyRemaining = "rate_limit_remaining"
	keyLimit     = "rate_limit"
	keyReset     = "rate_limit_reset"
)

// checkPrefix marks the checks whose runs carry the GitHub rate limit.
const checkPrefix = "github."

// RateLimit is the rate limit left for one API and token, as the newest run that
// reported it saw it.
type RateLimit struct {
	// Host is the API's host (api.github.com, a GitHub Enterprise Server host).
	Host string `json:"host"`
	// API is the API's base URL.
	API string `json:"api"`
	// Token says where the token came from (GH_TOKEN, the gh hosts.yml), never the
	// token itself.
	Token     string    `json:"token,omitempty"`
	Limit     int       `json:"limit"`
	Remaining int       `json:"remaining"`
	Reset     time.Time `json:"reset"`
	// Run is the receipt the numbers come from, and At when that run ended.
	Run   uint64    `json:"run"`
	Check string    `json:"check"`
	At    time.Time `json:"at"`
}

// Runs is what Latest reads; *store.Tx implements it.
type Runs interface {
	ItemStates() ([]store.ItemState, error)
	Receipt(seq uint64) (store.Receipt, error)
}

var _ Runs = (*store.Tx)(nil)

// Latest is the newest rate limit of each API and token, over the last run and the
// last completed run of every `github.*` item, sorted by host and token. A run
// without the evidence (skipped, or an error before any answer) is passed over.
func Latest(runs Runs) ([]RateLimit, error) {
	items, err := runs.ItemStates()
	if err != nil {
		return nil, err
	}
	type key struct{ api, token string }
	newest := map[key]RateLimit{}
	for _, it := range items {
		if !strings.HasPrefix(it.Check, checkPrefix) {
			continue
		}
		for _, seq := range []uint64{it.LastRun, it.LastCompleted} {
			if seq == 0 {
				continue
			}
			r, err := runs.Receipt(seq)
			if errors.Is(err, store.ErrNotFound) {
				continue // pruned
			}
			if err != nil {
				return nil, err
			}
			rl, ok := FromReceipt(r)
			if !ok {
				continue
			}
			k := key{rl.API, rl.Token}
			if old, seen := newest[k]; !seen || rl.Run > old.Run {
				newest[k] = rl
			}
			break
		}
	}
	out := make([]RateLimit, 0, len(newest))
	for _, rl := range newest {
		out = append(out, rl)
	}
	slices.SortFunc(out, func(a, b RateLimit) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		if c := strings.Compare(a.API, b.API); c != 0 {
			return c
		}
		return strings.Compare(a.Token, b.Token)
	})
	return out, nil
}

// FromReceipt reads the rate limit from a receipt's evidence; false when the receipt
// has none or it does not parse.
func FromReceipt(r store.Receipt) (RateLimit, bool) {
	ev := r.Evidence
	api := ev[keyAPI]
	if api == "" || ev[keyRemaining] == "" {
		return RateLimit{}, false
	}
	remaining, err1 := strconv.Atoi(ev[keyRemaining])
	limit, err2 := strconv.Atoi(ev[keyLimit])
	reset, err3 := time.Parse(time.RFC3339, ev[keyReset])
	if err := errors.Join(err1, err2, err3); err != nil {
		return RateLimit{}, false
	}
	at := r.Ended
	if at.IsZero() {
		at = r.Started
	}
	return RateLimit{
		Host: host(api), API: api, Token: ev[keyToken],
		Limit: limit, Remaining: remaining, Reset: reset.UTC(),
		Run: r.Seq, Check: r.Check, At: at,
	}, true
}

// host is the host (and port) of the API's base URL, or the URL when it does not parse.
func host(api string) string {
	if u, err := url.Parse(api); err == nil && u.Host != "" {
		return u.Host
	}
	return api
}
