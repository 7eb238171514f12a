package checks

import (
	"context"
	"fmt"
	"sync"
)

// Round is one pass over a set of items: one `clankerd check`, or the items one
// scheduler tick fires together. Checks that need the same provider data in a round
// (the list of pods, the security groups of a region) share one read through Memo.
type Round struct {
	mu    sync.Mutex
	calls map[string]*memoCall
}

type memoCall struct {
	done  chan struct{}
	value any
	err   error
}

type roundKey struct{}

// NewRound returns an empty round.
func NewRound() *Round { return &Round{calls: map[string]*memoCall{}} }

// WithRound returns a context carrying the round.
func WithRound(ctx context.Context, r *Round) context.Context {
	return context.WithValue(ctx, roundKey{}, r)
}

// Memo returns the value fetch produced for key in the context's round, calling fetch
// once per round however many checks ask at the same time. Without a round in ctx it
// calls fetch every time. Errors are shared too: a failed read fails every check that
// needed it in that round.
func Memo[T any](ctx context.Context, key string, fetch func(context.Context) (T, error)) (T, error) {
	r, _ := ctx.Value(roundKey{}).(*Round)
	if r == nil {
		return fetch(ctx)
	}
	r.mu.Lock()
	c, ok := r.calls[key]
	if !ok {
		c = &memoCall{done: make(chan struct{})}
		r.calls[key] = c
	}
	r.mu.Unlock()
	if !ok {
		func() {
			defer func() {
				if p := recover(); p != nil {
					c.err = fmt.Errorf("reading %s panicked: %v", key, p)
				}
				close(c.done)
			}()
			c.value, c.err = fetch(ctx)
		}()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
	if c.err != nil {
		var zero T
		return zero, c.err
	}
	return c.value.(T), nil
}
