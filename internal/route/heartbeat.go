package route

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/clankerd/clankerd/heartbeat"
)

// Resolver routes the plain-language items of heartbeat files once, at load, and
// remembers each answer by text, so a reload or a tick never routes again.
type Resolver struct {
	Router *Router

	mu    sync.Mutex
	cache map[string]Result
}

func (rs *Resolver) route(ctx context.Context, text string) Result {
	key := strings.ToLower(strings.Join(strings.Fields(text), " "))
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if res, ok := rs.cache[key]; ok {
		return res
	}
	if rs.cache == nil {
		rs.cache = map[string]Result{}
	}
	res := rs.Router.Route(ctx, text)
	rs.cache[key] = res
	return res
}

// Resolve replaces each question item that the rules route confidently to checks by
// one check item per route (same line, section and schedule; the question kept as the
// item's text). Questions that do not route, ask for a change, or leave out a required
// parameter stay questions, with a notice that says why.
func (rs *Resolver) Resolve(ctx context.Context, f *heartbeat.File) {
	var items []heartbeat.Item
	var notices []heartbeat.Diagnostic
	for _, it := range f.Items {
		if it.Kind != heartbeat.ItemQuestion {
			items = append(items, it)
			continue
		}
		res := rs.route(ctx, it.Text)
		var why string
		switch {
		case !res.Confident:
			why = fmt.Sprintf("not routed: no check matches %q well enough", it.Text)
			if len(res.Closest) > 0 {
				why += "; the closest are " + strings.Join(res.Closest, ", ")
			}
			why += "; write a check id in backticks (see `clankerd lint --list`)"
		case res.Write:
			why = fmt.Sprintf("not routed: %q asks for a change; write the task in a Tasks section (`%s` ...), where it queues plans for approval", it.Text, res.Routes[0].Check)
		case len(res.Missing) > 0:
			why = fmt.Sprintf("not routed: %q maps to checks that need %s; name them in the text or write the check in backticks", it.Text, strings.Join(res.Missing, ", "))
		}
		var resolved []heartbeat.Item
		if why == "" {
			for _, r := range res.Routes {
				spec, _, _ := rs.Router.catalog.Lookup(r.Check)
				params, err := spec.Bind(r.Params, f.Defaults)
				if err != nil {
					why = fmt.Sprintf("not routed: %q maps to %s, but %v", it.Text, r.Check, err)
					resolved = nil
					break
				}
				resolved = append(resolved, it.RoutedTo(r.Check, params))
			}
		}
		if why != "" {
			items = append(items, it)
			notices = append(notices, heartbeat.Diagnostic{File: f.Path, Line: it.Line, Msg: why})
			continue
		}
		items = append(items, resolved...)
	}
	// The parser's "not routed yet" notices are replaced by these.
	for _, n := range f.Notices {
		if !n.Unrouted {
			notices = append(notices, n)
		}
	}
	f.Items, f.Notices = items, notices
}
