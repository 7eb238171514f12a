package route

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/clankerd/clankerd/checks"
)

var (
	regionTok    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	nsNameTok    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	instanceTok  = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
	sgTok        = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	moreThan     = regexp.MustCompile(`(?:more than|over|above|at least|exceeds?|>=?)\s*(\d+)`)
	toNumber     = regexp.MustCompile(`\bto\s+(\d+)\b`)
	durationText = regexp.MustCompile(`(?:last|past|for|in|within|older than|over)\s+(?:the\s+)?(\d+)\s*(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)\b`)
	durationBare = regexp.MustCompile(`(?:last|past|for|within)\s+(?:the\s+)?(minute|hour|day|week|month)\b`)
	dollars      = regexp.MustCompile(`\$\s?(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*(?:dollars|usd)\b`)
	hostPort     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?:\d{1,5}$`)
	hostName     = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$`)
	cidrTok      = regexp.MustCompile(`^[0-9a-f.:]+/\d{1,3}$`)
	portNumber   = regexp.MustCompile(`\bport\s+(\d{1,5})\b`)
	namespaceOf  = regexp.MustCompile(`(?:namespace\s+([a-z0-9-]+)|in\s+(?:the\s+)?([a-z0-9-]+)\s+namespace)`)
)

// servicePorts are the ports of services people name instead of numbers.
var servicePorts = map[string]string{
	"ssh": "22", "rdp": "3389", "http": "80", "https": "443", "mysql": "3306", "postgres": "5432",
	"postgresql": "5432", "redis": "6379", "mongodb": "27017", "smtp": "25",
}

// durationParams are tried in order for a duration in the question.
var durationParams = []string{"since", "window", "for", "unused", "max_age"}

// extract takes the parameters of spec that the question gives, and says where each
// came from.
func extract(question string, spec checks.Spec, names map[string][]string) (map[string]string, []string) {
	q := strings.ToLower(question)
	toks := words(q)
	params := map[string]string{}
	var why []string
	has := func(name string) bool { _, ok := spec.Param(name); return ok }
	set := func(name, value, because string) {
		if has(name) && params[name] == "" && value != "" {
			params[name] = value
			why = append(why, fmt.Sprintf("%s=%s from %s", name, value, because))
		}
	}
	known := func(kind string) string {
		for _, t := range toks {
			for _, n := range names[kind] {
				if strings.ToLower(n) == t {
					return n
				}
			}
		}
		return ""
	}

	// Names that exist.
	if m := namespaceOf.FindStringSubmatch(q); m != nil {
		set("namespace", m[1]+m[2], "the question")
	}
	set("namespace", known("namespace"), "a namespace that exists")
	set("context", known("context"), "a kubeconfig context")
	set("profile", known("profile"), "an AWS profile")
	// "production" means the one context, profile or namespace named like it.
	if slices.Contains(toks, "production") || slices.Contains(toks, "prod") {
		for _, kind := range []string{"context", "profile", "namespace"} {
			if !has(kind) || params[kind] != "" {
				continue
			}
			var prod []string
			for _, n := range names[kind] {
				if strings.Contains(strings.ToLower(n), "prod") {
					prod = append(prod, n)
				}
			}
			if len(prod) == 1 {
				set(kind, prod[0], `"production"`)
				break
			}
		}
	}

	// Regions.
	var regions []string
	for _, t := range toks {
		if regionTok.MatchString(t) && !slices.Contains(regions, t) {
			regions = append(regions, t)
		}
	}
	switch {
	case strings.Contains(q, "all regions") || strings.Contains(q, "every region"):
		set("regions", "all", `"all regions"`)
	case len(regions) == 1 && has("region"):
		set("region", regions[0], "the question")
	case len(regions) > 0:
		set("regions", strings.Join(regions, ","), "the question")
	}

	// Numbers: thresholds for checks, targets for tasks.
	for _, p := range spec.Params {
		if p.Type != checks.Int {
			continue
		}
		if p.Required {
			if m := toNumber.FindStringSubmatch(q); m != nil {
				set(p.Name, m[1], `"to `+m[1]+`"`)
			}
		} else if m := moreThan.FindStringSubmatch(q); m != nil {
			set(p.Name, m[1], strings.TrimSpace(m[0]))
		}
	}
	if m := durationText.FindStringSubmatch(q); m != nil {
		order := durationParams
		if strings.HasPrefix(m[0], "older") {
			order = append([]string{"max_age"}, order...)
		}
		for _, name := range order {
			if p, ok := spec.Param(name); ok && p.Type == checks.Duration {
				set(name, m[1]+unit(m[2]), strings.TrimSpace(m[0]))
				break
			}
		}
	} else if m := durationBare.FindStringSubmatch(q); m != nil {
		for _, name := range durationParams {
			if p, ok := spec.Param(name); ok && p.Type == checks.Duration {
				set(name, map[string]string{"minute": "1m", "hour": "1h", "day": "1d", "week": "7d", "month": "30d"}[m[1]], strings.TrimSpace(m[0]))
				break
			}
		}
	}
	if m := dollars.FindStringSubmatch(q); m != nil {
		amount := m[1] + m[2]
		set("budget", amount, "$"+amount)
		set("min_cost", amount, "$"+amount)
	}

	// Targets of probes and tasks.
	for _, t := range toks {
		switch {
		case strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://"):
			set("url", t, "the question")
		case hostPort.MatchString(t):
			set("addr", t, "the question")
		case hostName.MatchString(t) && has("addr") && !has("url"):
			if p, _ := spec.Param("addr"); strings.Contains(p.Doc, "443") {
				set("addr", t, "the question")
			}
		case nsNameTok.MatchString(t):
			set("deployment", t, "the question")
			set("pod", t, "the question")
		case instanceTok.MatchString(t):
			set("instance", t, "the question")
		case sgTok.MatchString(t):
			set("group", t, "the question")
		}
	}
	// A security-group rule: a service name or port, and a source.
	if has("protocol") {
		for _, t := range toks {
			if port, ok := servicePorts[t]; ok {
				set("protocol", "tcp", strconv.Quote(t))
				set("ports", port, strconv.Quote(t))
			}
			if cidrTok.MatchString(t) {
				set("cidr", t, "the question")
			}
		}
		if m := portNumber.FindStringSubmatch(q); m != nil {
			set("protocol", "tcp", "port "+m[1])
			set("ports", m[1], "port "+m[1])
		}
		for _, w := range []string{"open", "world", "internet", "anywhere", "public"} {
			if slices.Contains(toks, w) {
				set("cidr", "0.0.0.0/0", strconv.Quote(w))
			}
		}
	}
	if has("deployment") && params["deployment"] == "" {
		if name := after(toks, []string{"scale", "restart"}, "deployment"); name != "" {
			if ns := params["namespace"]; ns != "" {
				set("deployment", ns+"/"+name, "the question")
			} else if m := namespaceOf.FindStringSubmatch(q); m != nil {
				set("deployment", m[1]+m[2]+"/"+name, "the question")
			} else if ns := known("namespace"); ns != "" {
				set("deployment", ns+"/"+name, "the question")
			}
		}
	}
	set("node", after(toks, []string{"cordon", "uncordon", "drain"}, "node"), "the question")
	set("asg", after(toks, []string{"group", "asg"}, "group"), "the question")
	set("bucket", after(toks, []string{"bucket"}, ""), "the question")
	set("service", after(toks, []string{"service"}, ""), "the question")
	set("cluster", after(toks, []string{"cluster"}, ""), "the question")
	return params, why
}

// after returns the word that follows one of the verbs, skipping the filler word and
// stopwords; "" when there is none.
func after(toks, verbs []string, filler string) string {
	for i, t := range toks {
		if !slices.Contains(verbs, t) {
			continue
		}
		for _, n := range toks[i+1:] {
			if n == filler || stopwords[n] || n == "deployment" || n == "the" {
				continue
			}
			if strings.Trim(n, "0123456789") == "" {
				return ""
			}
			return n
		}
	}
	return ""
}

func unit(u string) string {
	switch u[0] {
	case 'm':
		return "m"
	case 'h':
		return "h"
	case 'd':
		return "d"
	case 'w':
		return "w"
	}
	return u
}
