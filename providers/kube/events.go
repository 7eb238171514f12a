package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/clankerd/clankerd/checks"
)

// seriousReasons are Warning event reasons that usually mean something is down.
var seriousReasons = map[string]bool{
	"BackOff": true, "Failed": true, "FailedScheduling": true, "Unhealthy": true, "FailedMount": true,
	"FailedAttachVolume": true, "FailedCreatePodSandBox": true, "Evicted": true, "OOMKilling": true, "NodeNotReady": true,
}

func (p *Provider) eventsWarning(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Finding, error) {
	events, err := read(ctx, c, warningEventsKind)
	if err != nil {
		return nil, err
	}
	since := p.now().Add(-params.Duration("since"))
	type group struct {
		reasons map[string]bool
		serious bool
		message string
		last    time.Time
	}
	groups := map[string]*group{}
	for _, e := range events {
		if e.Type != corev1.EventTypeWarning || !s.has(e) {
			continue
		}
		at := eventTime(e)
		if at.Before(since) {
			continue
		}
		o := e.InvolvedObject
		res := strings.ToLower(o.Kind) + "/" + o.Namespace + "/" + o.Name
		if o.Namespace == "" {
			res = strings.ToLower(o.Kind) + "/" + o.Name
		}
		g := groups[res]
		if g == nil {
			g = &group{reasons: map[string]bool{}}
			groups[res] = g
		}
		g.reasons[e.Reason] = true
		g.serious = g.serious || seriousReasons[e.Reason]
		if at.After(g.last) {
			g.last, g.message = at, e.Message
		}
	}
	var out []checks.Finding
	for res, g := range groups {
		reasons := make([]string, 0, len(g.reasons))
		for r := range g.reasons {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		sev := checks.Low
		if g.serious {
			sev = checks.Medium
		}
		out = append(out, checks.Finding{
			Resource: res, Problem: "warning_events", Severity: sev,
			Summary:  fmt.Sprintf("%s had Warning events (%s); latest: %s", res, strings.Join(reasons, ", "), g.message),
			Evidence: map[string]string{"reasons": strings.Join(reasons, ",")},
			Fix:      "kubectl events --for " + res[:strings.Index(res, "/")] + " shows them in order",
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out, nil
}

// eventTime is when an event last happened.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
