package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/clankerd/clankerd/checks"
)

// statement is one statement of an IAM or resource policy, normalised so that the
// same permissions read the same however the document was written: lists sorted and
// deduplicated, Sids dropped, a single value and a one-element list alike.
type statement struct {
	effect     string
	principals []principal // empty in identity policies
	notPrin    bool        // NotPrincipal
	actions    []string
	notAction  bool // NotAction: everything but actions
	resources  []string
	notRes     bool
	conditions []string // "StringEquals sts:ExternalId=abc", sorted
}

// principal is one entry of a Principal element: kind is "*", "AWS", "Service",
// "Federated" or "CanonicalUser".
type principal struct{ kind, id string }

func (p principal) String() string {
	switch p.kind {
	case "*", "AWS", "Service":
		return p.id
	case "Federated":
		return "federated " + p.id
	}
	return p.kind + " " + p.id
}

// public reports whether a principal is everyone.
func (p principal) public() bool { return p.id == "*" }

// parsePolicy reads a policy document. IAM returns documents URL-encoded; S3 and
// moto return them as JSON.
func parsePolicy(doc string) ([]statement, error) {
	text := strings.TrimSpace(doc)
	if !strings.HasPrefix(text, "{") {
		u, err := url.PathUnescape(text) // RFC 3986: a + is a +
		if err != nil {
			return nil, fmt.Errorf("policy document is neither JSON nor URL-encoded JSON: %w", err)
		}
		text = u
	}
	var raw struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("reading policy document: %w", err)
	}
	type rawStatement struct {
		Effect                  string
		Principal, NotPrincipal json.RawMessage
		Action, NotAction       json.RawMessage
		Resource, NotResource   json.RawMessage
		Condition               map[string]map[string]json.RawMessage
	}
	var list []rawStatement
	if err := json.Unmarshal(raw.Statement, &list); err != nil {
		var one rawStatement
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return nil, fmt.Errorf("reading policy statements: %w", err)
		}
		list = []rawStatement{one}
	}
	out := make([]statement, 0, len(list))
	for _, r := range list {
		s := statement{effect: r.Effect}
		s.principals, s.notPrin = principals(r.Principal), len(r.NotPrincipal) > 0
		if s.notPrin {
			s.principals = principals(r.NotPrincipal)
		}
		s.actions, s.notAction = sortedStrings(r.Action), len(r.NotAction) > 0
		if s.notAction {
			s.actions = sortedStrings(r.NotAction)
		}
		s.resources, s.notRes = sortedStrings(r.Resource), len(r.NotResource) > 0
		if s.notRes {
			s.resources = sortedStrings(r.NotResource)
		}
		for op, kv := range r.Condition {
			for k, v := range kv {
				s.conditions = append(s.conditions, op+" "+k+"="+strings.Join(sortedStrings(v), ","))
			}
		}
		slices.Sort(s.conditions)
		out = append(out, s)
	}
	return out, nil
}

// sortedStrings reads a string or a list of strings (numbers and booleans as
// written), sorted and deduplicated.
func sortedStrings(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return []string{string(raw)}
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		if json.Unmarshal(v, &one) == nil {
			out = append(out, one)
		} else {
			out = append(out, string(v))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// principals reads a Principal element: "*", or an object of kinds to a value or a
// list. {"AWS": "*"} is everyone, like "*".
func principals(raw json.RawMessage) []principal {
	if len(raw) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []principal{{"*", one}}
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return []principal{{"unknown", string(raw)}}
	}
	var out []principal
	for kind, v := range m {
		for _, id := range sortedStrings(v) {
			k := kind
			if id == "*" {
				k = "*"
			}
			out = append(out, principal{k, id})
		}
	}
	slices.SortFunc(out, func(a, b principal) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}

// String writes the statement in one canonical line: "Allow s3:GetObject on
// arn:aws:s3:::b/* to * if IpAddress aws:SourceIp=203.0.113.0/24".
func (s statement) String() string {
	var b strings.Builder
	b.WriteString(s.effect)
	b.WriteString(" ")
	if s.notAction {
		b.WriteString("all but ")
	}
	b.WriteString(strings.Join(s.actions, ","))
	if len(s.resources) > 0 {
		b.WriteString(" on ")
		if s.notRes {
			b.WriteString("all but ")
		}
		b.WriteString(strings.Join(s.resources, ","))
	}
	if len(s.principals) > 0 {
		b.WriteString(" to ")
		if s.notPrin {
			b.WriteString("all but ")
		}
		ps := make([]string, len(s.principals))
		for i, p := range s.principals {
			ps[i] = p.String()
		}
		b.WriteString(strings.Join(ps, ","))
	}
	if len(s.conditions) > 0 {
		b.WriteString(" if ")
		b.WriteString(strings.Join(s.conditions, "; "))
	}
	return b.String()
}

// documentDigest identifies a policy's permissions: the same for the same
// statements in any order or spelling, different when any statement changes.
func documentDigest(stmts []statement) string {
	lines := make([]string, len(stmts))
	for i, s := range stmts {
		lines[i] = s.String()
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])[:12]
}

// allowedActions lists the actions a policy allows, sorted, for a fact's key: at
// most eight, then how many more. NotAction reads "all but X".
func allowedActions(stmts []statement) string {
	var acts []string
	for _, s := range stmts {
		if s.effect != "Allow" {
			continue
		}
		if s.notAction {
			acts = append(acts, "all but "+strings.Join(s.actions, ","))
			continue
		}
		acts = append(acts, s.actions...)
	}
	slices.Sort(acts)
	acts = slices.Compact(acts)
	if len(acts) == 0 {
		return "nothing"
	}
	if len(acts) > 8 {
		return strings.Join(acts[:8], ",") + fmt.Sprintf(" and %d more", len(acts)-8)
	}
	return strings.Join(acts, ",")
}

// Actions that let a principal give itself or others more permissions.
var escalationActions = []string{
	"iam:attachgrouppolicy", "iam:attachrolepolicy", "iam:attachuserpolicy", "iam:createaccesskey",
	"iam:createloginprofile", "iam:createpolicyversion", "iam:passrole", "iam:putgrouppolicy",
	"iam:putrolepolicy", "iam:putuserpolicy", "iam:updateassumerolepolicy", "iam:updateloginprofile",
	"iam:addusertogroup", "sts:assumerole",
}

// policySeverity ranks what an identity policy allows: everything on everything is
// critical; all of IAM, any wildcard of every service, NotAction, or an action that
// escalates privileges is high; a whole service ("s3:*") is medium; anything else
// low.
func policySeverity(stmts []statement) checks.Severity {
	sev := checks.Low
	raise := func(s checks.Severity) {
		if s.Rank() > sev.Rank() {
			sev = s
		}
	}
	for _, s := range stmts {
		if s.effect != "Allow" {
			continue
		}
		if s.notAction {
			raise(checks.High)
			continue
		}
		anyResource := slices.Contains(s.resources, "*") || s.notRes
		for _, a := range s.actions {
			a = strings.ToLower(a)
			switch {
			case a == "*" && anyResource:
				raise(checks.Critical)
			case a == "*", a == "iam:*", slices.Contains(escalationActions, a):
				raise(checks.High)
			case strings.HasSuffix(a, ":*"):
				raise(checks.Medium)
			}
		}
	}
	return sev
}

// managedSeverity ranks an AWS managed policy by name (its document is AWS's, not
// read): administrator access is critical, full IAM or power-user access high, a
// service's full access medium, anything else low.
func managedSeverity(arn string) checks.Severity {
	name := arn[strings.LastIndex(arn, "/")+1:]
	switch {
	case name == "AdministratorAccess":
		return checks.Critical
	case name == "IAMFullAccess", name == "PowerUserAccess":
		return checks.High
	case strings.HasSuffix(name, "FullAccess"):
		return checks.Medium
	}
	return checks.Low
}
