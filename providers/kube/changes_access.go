package kube

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/clankerd/clankerd/checks"
)

var rolesKind = kindReader[rbacv1.Role]{
	name: "roles",
	list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]rbacv1.Role, string, error) {
		l, err := c.RbacV1().Roles("").List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	},
	informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Rbac().V1().Roles().Informer()
	},
}

// accessFacts are the facts of k8s.changes.access: every binding flattened to its
// subject and role, every atomic grant of every role, and the ServiceAccount tokens
// stored as Secrets. namespace= narrows the namespaced objects (RoleBindings, Roles,
// Secrets); ClusterRoles and ClusterRoleBindings grant in every namespace and are
// always read.
func (p *Provider) accessFacts(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Fact, error) {
	clusterRoles, err := read(ctx, c, clusterRolesKind)
	if err != nil {
		return nil, err
	}
	roles, err := read(ctx, c, rolesKind)
	if err != nil {
		return nil, err
	}
	crbs, err := read(ctx, c, clusterRoleBindingsKind)
	if err != nil {
		return nil, err
	}
	rbs, err := read(ctx, c, roleBindingsKind)
	if err != nil {
		return nil, err
	}
	var out []checks.Fact
	for _, r := range clusterRoles {
		out = append(out, ruleFacts(ref("clusterrole", r), r.Rules)...)
	}
	roles = inScope(s, roles)
	for _, r := range roles {
		out = append(out, ruleFacts(ref("role", r), r.Rules)...)
	}
	out = append(out, bindingFacts(newRoleLevels(clusterRoles, roles), crbs, inScope(s, rbs))...)
	if !params.Bool("secrets") {
		note(ctx, "serviceaccount_tokens", "not checked: secrets=false")
		return out, nil
	}
	tokens, err := tokenFacts(ctx, c, s.namespace)
	if err != nil {
		return nil, err
	}
	return append(out, tokens...), nil
}

// ruleFacts are the atomic grants of a role's rules, one fact each: "get pods",
// "create apps/deployments", "* */*", "get secrets named db-creds",
// "get nonResourceURL /metrics". A role that gains a verb or a resource has exactly
// one new fact per new pair.
func ruleFacts(resource string, rules []rbacv1.PolicyRule) []checks.Fact {
	var out []checks.Fact
	for _, g := range grants(rules) {
		out = append(out, checks.Fact{
			Resource: resource, Key: g.key, Severity: g.severity,
			Summary: "grants " + g.key,
			Fix:     "remove the grant from the role unless its subjects need it",
		})
	}
	return out
}

// grant is one verb on one resource (or URL) that a rule allows.
type grant struct {
	key      string
	severity checks.Severity
}

// grants expands rules into atomic grants.
func grants(rules []rbacv1.PolicyRule) []grant {
	var out []grant
	for _, r := range rules {
		for _, verb := range r.Verbs {
			for _, url := range r.NonResourceURLs {
				sev := checks.Low
				if verb == "*" || url == "*" {
					sev = checks.High
				} else if verb != "get" && verb != "head" {
					sev = checks.Medium // post, put, patch, delete
				}
				out = append(out, grant{verb + " nonResourceURL " + url, sev})
			}
			for _, group := range r.APIGroups {
				for _, res := range r.Resources {
					what := res
					if group != "" {
						what = group + "/" + res
					}
					sev := grantSeverity(verb, group, res)
					if len(r.ResourceNames) == 0 {
						out = append(out, grant{verb + " " + what, sev})
					}
					for _, name := range r.ResourceNames {
						out = append(out, grant{verb + " " + what + " named " + name, sev})
					}
				}
			}
		}
	}
	return out
}

// writeVerbs change what they are granted on.
var writeVerbs = map[string]bool{"create": true, "update": true, "patch": true, "delete": true, "deletecollection": true}

// grantSeverity ranks one verb on one resource: wildcards and what lets a subject
// gain more than it was given (escalate, bind, impersonate, reading Secrets, exec
// into pods, minting tokens, the nodes' proxy) high, other writes medium, reads low.
func grantSeverity(verb, group, resource string) checks.Severity {
	core := group == "" || group == "*"
	switch {
	case verb == "*" || resource == "*":
		return checks.High
	case verb == "escalate" || verb == "bind" || verb == "impersonate":
		return checks.High
	case core && resource == "secrets" && (verb == "get" || verb == "list" || verb == "watch"):
		return checks.High
	case core && (resource == "pods/exec" || resource == "pods/attach" || resource == "serviceaccounts/token") && verb == "create":
		return checks.High
	case core && resource == "nodes/proxy":
		return checks.High
	case writeVerbs[verb]:
		return checks.Medium
	}
	return checks.Low
}

// roleLevels is how much each role grants, the severity of a binding to it:
// "clusterrole/NAME" and "role/NS/NAME".
type roleLevels struct {
	level    map[string]checks.Severity
	allOnAll map[string]bool // ClusterRoles that grant everything
}

// newRoleLevels ranks every role by its highest grant. An aggregated ClusterRole
// (admin, edit, view) is ranked with the rules of the roles it aggregates too, so it
// ranks the same before and after the controller-manager fills its rules.
func newRoleLevels(clusterRoles []*rbacv1.ClusterRole, roles []*rbacv1.Role) roleLevels {
	lv := roleLevels{level: map[string]checks.Severity{}, allOnAll: map[string]bool{}}
	for _, r := range clusterRoles {
		rules := slices.Concat(r.Rules, aggregatedRules(r, clusterRoles))
		lv.level[ref("clusterrole", r)] = highest(grants(rules))
		lv.allOnAll[r.Name] = allOnAll(rules)
	}
	for _, r := range roles {
		lv.level[ref("role", r)] = highest(grants(r.Rules))
	}
	return lv
}

// aggregatedRules are the rules of the ClusterRoles that r's aggregation rule selects.
func aggregatedRules(r *rbacv1.ClusterRole, all []*rbacv1.ClusterRole) []rbacv1.PolicyRule {
	if r.AggregationRule == nil {
		return nil
	}
	var out []rbacv1.PolicyRule
	for _, ls := range r.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil {
			continue
		}
		for _, other := range all {
			if other.Name != r.Name && sel.Matches(labels.Set(other.Labels)) {
				out = append(out, other.Rules...)
			}
		}
	}
	return out
}

func highest(gs []grant) checks.Severity {
	sev := checks.Low
	for _, g := range gs {
		if g.severity.Rank() > sev.Rank() {
			sev = g.severity
		}
	}
	return sev
}

// binding is one subject's grant of one role, and the bindings that make it.
type binding struct {
	resource, key string
	severity      checks.Severity
	missing       bool
	via           []string
}

// bindingFacts flatten bindings to one fact per subject and role: on
// serviceaccount/NS/NAME, user/NAME or group/NAME, "clusterrole/edit in namespace
// prod", "clusterrole/cluster-admin cluster-wide", "role/prod/deployer in namespace
// prod". The binding's own name is not part of the fact: renaming a binding changes
// no access.
func bindingFacts(lv roleLevels, crbs []*rbacv1.ClusterRoleBinding, rbs []*rbacv1.RoleBinding) []checks.Fact {
	byFact := map[[2]string]*binding{}
	add := func(via, bindingNS string, roleRef rbacv1.RoleRef, subjects []rbacv1.Subject) {
		role, where := "clusterrole/"+roleRef.Name, "cluster-wide"
		if bindingNS != "" {
			where = "in namespace " + bindingNS
			if roleRef.Kind == "Role" {
				role = "role/" + bindingNS + "/" + roleRef.Name
			}
		}
		sev, known := lv.level[role]
		switch {
		case !known:
			sev = checks.Low // grants nothing until the role exists
		case bindingNS == "" && roleRef.Kind == "ClusterRole" && lv.allOnAll[roleRef.Name]:
			sev = checks.Critical
		}
		for _, sub := range subjects {
			id := [2]string{subjectRef(sub, bindingNS), role + " " + where}
			b := byFact[id]
			if b == nil {
				b = &binding{resource: id[0], key: id[1], severity: sev, missing: !known}
				byFact[id] = b
			}
			if !slices.Contains(b.via, via) {
				b.via = append(b.via, via)
			}
		}
	}
	for _, b := range crbs {
		add("clusterrolebinding "+b.Name, "", b.RoleRef, b.Subjects)
	}
	for _, b := range rbs {
		add("rolebinding "+b.Namespace+"/"+b.Name, b.Namespace, b.RoleRef, b.Subjects)
	}
	out := make([]checks.Fact, 0, len(byFact))
	for _, b := range byFact {
		slices.Sort(b.via)
		summary := "bound to " + b.key + " by " + strings.Join(b.via, ", ")
		if b.missing {
			summary += " (the role does not exist yet)"
		}
		out = append(out, checks.Fact{
			Resource: b.resource, Key: b.key, Severity: b.severity, Summary: summary,
			Fix: "remove the subject from " + strings.Join(b.via, ", ") + " unless it needs this access",
		})
	}
	slices.SortFunc(out, func(a, b checks.Fact) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// subjectRef names a binding's subject: serviceaccount/NS/NAME (the binding's
// namespace when the subject names none), user/NAME or group/NAME.
func subjectRef(sub rbacv1.Subject, bindingNS string) string {
	switch sub.Kind {
	case rbacv1.ServiceAccountKind:
		return "serviceaccount/" + cmp.Or(sub.Namespace, bindingNS) + "/" + sub.Name
	case rbacv1.UserKind:
		return "user/" + sub.Name
	case rbacv1.GroupKind:
		return "group/" + sub.Name
	}
	return strings.ToLower(sub.Kind) + "/" + sub.Name
}

// tokenFacts are the long-lived ServiceAccount tokens stored as Secrets in namespace
// ns ("" = all), one fact on the account per Secret, read by name and annotation
// only (never data).
func tokenFacts(ctx context.Context, c *conn, ns string) ([]checks.Fact, error) {
	tokens, err := serviceAccountTokens(ctx, c, ns)
	if err != nil {
		return nil, fmt.Errorf("%w; or set secrets=false to leave service-account token secrets unchecked", err)
	}
	out := make([]checks.Fact, 0, len(tokens))
	for _, t := range tokens {
		resource := "serviceaccount/" + t.namespace + "/" + t.account
		if t.account == "" {
			resource = "secret/" + t.namespace + "/" + t.secret
		}
		out = append(out, checks.Fact{
			Resource: resource, Key: "token secret " + t.secret, Severity: checks.Medium,
			Summary: "a service-account token that never expires, stored in secret " + t.namespace + "/" + t.secret,
			Fix:     "delete the secret unless something needs a token that never expires: pods get short-lived tokens without it",
		})
	}
	return out, nil
}

// tokenSecret is a Secret of type kubernetes.io/service-account-token.
type tokenSecret struct {
	namespace, secret, account string
}

// serviceAccountTokens lists the ServiceAccount token Secrets in namespace ns, by
// field selector and as metadata only, once per round.
func serviceAccountTokens(ctx context.Context, c *conn, ns string) ([]tokenSecret, error) {
	return checks.Memo(ctx, "k8s/"+c.name+"/secrets/serviceaccount-tokens/"+ns, func(ctx context.Context) ([]tokenSecret, error) {
		var out []tokenSecret
		err := listMetadata(ctx, c, "secrets", ns, "type="+string(corev1.SecretTypeServiceAccountToken), func(o *metav1.PartialObjectMetadata) {
			out = append(out, tokenSecret{namespace: o.Namespace, secret: o.Name, account: o.Annotations[corev1.ServiceAccountNameKey]})
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	})
}
