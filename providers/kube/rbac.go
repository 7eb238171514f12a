package kube

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/checks"
)

func (p *Provider) rbacClusterAdmin(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
	roles, err := read(ctx, c, clusterRolesKind)
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
	admin := map[string]bool{"cluster-admin": true}
	for _, r := range roles {
		if allOnAll(r.Rules) {
			admin[r.Name] = true
		}
	}
	var out []checks.Finding
	check := func(kind string, b metav1.Object, roleRef rbacv1.RoleRef, subjects []rbacv1.Subject, scopeText string) {
		if roleRef.Kind != "ClusterRole" || !admin[roleRef.Name] {
			return
		}
		bySubjectKind := map[string][]string{}
		for _, sub := range subjects {
			if systemSubject(sub) {
				continue
			}
			name := sub.Name
			if sub.Kind == rbacv1.ServiceAccountKind {
				name = sub.Namespace + "/" + sub.Name
			}
			bySubjectKind[sub.Kind] = append(bySubjectKind[sub.Kind], name)
		}
		for subKind, names := range bySubjectKind {
			sort.Strings(names)
			sev := checks.High
			if subKind == rbacv1.ServiceAccountKind {
				sev = checks.Critical // a stolen pod token is cluster-admin
			}
			out = append(out, checks.Finding{
				Resource: ref(kind, b), Problem: "cluster_admin_" + strings.ToLower(subKind), Severity: sev,
				Summary:  fmt.Sprintf("%s %s grants %s (everything%s) to %s %s", kind, b.GetName(), roleRef.Name, scopeText, strings.ToLower(subKind), strings.Join(names, ", ")),
				Evidence: map[string]string{"role": roleRef.Name, "subject_kind": subKind, "subjects": strings.Join(names, ",")},
				Fix:      "bind a role with only the verbs and resources needed",
			})
		}
	}
	for _, b := range inScope(s, rbs) {
		check("rolebinding", b, b.RoleRef, b.Subjects, " in namespace "+b.Namespace)
	}
	clusterScope := s
	clusterScope.namespace = "" // cluster-wide bindings belong to no namespace
	for _, b := range inScope(clusterScope, crbs) {
		check("clusterrolebinding", b, b.RoleRef, b.Subjects, "")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource+out[i].Problem < out[j].Resource+out[j].Problem })
	return out, nil
}

// allOnAll reports whether rules grant every verb on every resource of every group.
func allOnAll(rules []rbacv1.PolicyRule) bool {
	for _, r := range rules {
		if slices.Contains(r.Verbs, "*") && slices.Contains(r.Resources, "*") && slices.Contains(r.APIGroups, "*") {
			return true
		}
	}
	return false
}

// systemSubject reports whether a subject belongs to Kubernetes itself.
func systemSubject(s rbacv1.Subject) bool {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		return s.Namespace == "kube-system"
	default:
		return strings.HasPrefix(s.Name, "system:")
	}
}
