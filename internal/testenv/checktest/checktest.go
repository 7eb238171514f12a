// Package checktest holds small helpers the provider and store tests share: comparing
// findings, and a clock tests move by hand.
package checktest

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Expect compares findings written as "resource problem severity", in any order.
func Expect(t testing.TB, what string, got []string, want ...string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s findings:\n got %q\nwant %q", what, got, want)
	}
}

// Clock is a clock tests set and advance; safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
