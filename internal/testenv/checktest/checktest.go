// Package checktest holds small helpers the provider and store tests share: comparing
// findings, a clock tests move by hand, and tables for the providers' extractors.
package checktest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
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

// extractingProvider registers checks and takes their parameters from questions.
type extractingProvider interface {
	checks.Extractor
	Register(r *checks.Registry) error
}

// Extractions asks a provider's extractor for the parameters of its checks.
type Extractions struct {
	t   testing.TB
	p   checks.Extractor
	reg *checks.Registry
}

// NewExtractions registers the provider's checks, for Expect.
func NewExtractions(t testing.TB, p extractingProvider) *Extractions {
	t.Helper()
	reg := checks.NewRegistry()
	if err := p.Register(reg); err != nil {
		t.Fatal(err)
	}
	return &Extractions{t: t, p: p, reg: reg}
}

// Expect compares what the extractor proposes for a question and one of the
// provider's checks with want, in order, written as "namespace=shop from the
// question". Check "" stands for a check of another package, with only an addr
// parameter.
func (x *Extractions) Expect(question, check string, names map[string][]string, want ...string) {
	x.t.Helper()
	spec := checks.Spec{ID: "other.check", Params: []checks.ParamSpec{{Name: "addr", Type: checks.String}}}
	if check != "" {
		var ok bool
		if spec, _, ok = x.reg.Lookup(check); !ok {
			x.t.Fatalf("no check %s", check)
		}
	}
	var got []string
	for _, v := range x.p.Extract(checks.NewQuestion(question), spec, names) {
		got = append(got, v.String())
	}
	if !slices.Equal(got, want) {
		x.t.Errorf("%q (%s): %q, want %q", question, spec.ID, got, want)
	}
}
