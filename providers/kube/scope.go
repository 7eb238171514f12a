package kube

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/clankerd/clankerd/checks"
)

// Parameters shared by the Kubernetes checks and tasks. context= chooses the cluster
// and the credentials, so agents may give it only values the operator allows
// (checks.AgentConfigured).
var (
	contextParam = checks.ParamSpec{
		Name: "context", Type: checks.String, FrontMatter: "kube_context", Agent: checks.AgentConfigured,
		Doc: "kubeconfig context (default: the current context)",
	}
	namespaceParam = checks.ParamSpec{
		Name: "namespace", Type: checks.String,
		Doc: "only this namespace (default: all namespaces)",
	}
	selectorParam = checks.ParamSpec{
		Name: "selector", Type: checks.String, Validate: validateSelector,
		Doc: "label selector, such as app=api,tier!=batch",
	}
	// secretsParam says whether a check may list Secret names (metadata only), which
	// needs the opt-in role; kube_secrets: false in a heartbeat's front matter says
	// once for every item that the role is not granted.
	secretsParam = checks.ParamSpec{
		Name: "secrets", Type: checks.Bool, Default: "true", FrontMatter: "kube_secrets",
		Doc: "read Secret names too (metadata only; needs list on secrets: " + secretsRole + "); false leaves the Secret part unchecked",
	}
	excludeParam = checks.ParamSpec{
		Name: "exclude_namespaces", Type: checks.List, Default: "kube-system,kube-public,kube-node-lease",
		Doc: "namespaces to leave out (comma-separated; \"none\" to include all)",
	}
)

func validateSelector(s string) error {
	if _, err := labels.Parse(s); err != nil {
		return fmt.Errorf("not a label selector: %v", err)
	}
	return nil
}

// scope is the part of the cluster a check looks at.
type scope struct {
	namespace string
	exclude   []string
	selector  labels.Selector
}

func scopeOf(p checks.Params) scope {
	s := scope{namespace: p.Get("namespace"), selector: labels.Everything()}
	if sel := p.Get("selector"); sel != "" {
		s.selector, _ = labels.Parse(sel) // validated at bind
	}
	// Naming a namespace wins over the default exclusions.
	if ex := p.List("exclude_namespaces"); s.namespace == "" && !slices.Equal(ex, []string{"none"}) {
		s.exclude = ex
	}
	return s
}

// named is what scope and ref read of an object: every metav1.Object, and the
// compact forms reads keep (compactPod).
type named interface {
	GetNamespace() string
	GetName() string
	GetLabels() map[string]string
}

// has reports whether an object is in scope.
func (s scope) has(o named) bool {
	ns := o.GetNamespace()
	if s.namespace != "" && ns != s.namespace {
		return false
	}
	if slices.Contains(s.exclude, ns) {
		return false
	}
	return s.selector.Matches(labels.Set(o.GetLabels()))
}

// inScope keeps the objects in scope.
func inScope[T any, PT interface {
	*T
	named
}](s scope, all []*T) []*T {
	out := make([]*T, 0, len(all))
	for _, o := range all {
		if s.has(PT(o)) {
			out = append(out, o)
		}
	}
	return out
}

// ref names an object as "kind/namespace/name", or "kind/name" when it is
// cluster-scoped.
func ref(kind string, o named) string {
	if o.GetNamespace() == "" {
		return kind + "/" + o.GetName()
	}
	return kind + "/" + o.GetNamespace() + "/" + o.GetName()
}

// workloadOf names what owns a pod: its Deployment (through the ReplicaSet), other
// controller (owner), or the pod itself.
func workloadOf(namespace, name string, owner *metav1.OwnerReference, labels map[string]string) string {
	if owner == nil {
		return "pod/" + namespace + "/" + name
	}
	kind, owned := strings.ToLower(owner.Kind), owner.Name
	if kind == "replicaset" {
		if hash := labels["pod-template-hash"]; hash != "" && strings.HasSuffix(owned, "-"+hash) {
			kind, owned = "deployment", strings.TrimSuffix(owned, "-"+hash)
		}
	}
	return kind + "/" + namespace + "/" + owned
}

// run is the shape of every Kubernetes check: connect with the item's context, then
// look at the cluster.
func (p *Provider) run(ctx context.Context, params checks.Params, look func(ctx context.Context, c *conn, s scope) ([]checks.Finding, error)) (checks.Result, error) {
	c, err := p.connect(params.Get("context"))
	if err != nil {
		return checks.Result{}, err
	}
	n := &notes{}
	fs, err := look(context.WithValue(ctx, notesKey{}, n), c, scopeOf(params))
	if err != nil {
		return checks.Result{}, err
	}
	for i := range fs {
		if fs[i].Evidence == nil {
			fs[i].Evidence = map[string]string{}
		}
		fs[i].Evidence["context"] = c.name
	}
	ev := map[string]string{"context": c.name, "server": c.server}
	n.mu.Lock()
	maps.Copy(ev, n.m)
	n.mu.Unlock()
	return checks.Result{Findings: fs, Evidence: ev}, nil
}

// notes are what a check's run says about itself beside its findings, such as a part
// left out because the cluster does not serve its API; they join the result's
// evidence.
type notes struct {
	mu sync.Mutex
	m  map[string]string
}

type notesKey struct{}

// note records a note for the result of the check running in ctx.
func note(ctx context.Context, key, value string) {
	n, _ := ctx.Value(notesKey{}).(*notes)
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = map[string]string{}
	}
	n.m[key] = value
}

// spec builds a check spec with the parameters every Kubernetes check takes.
func spec(id, description, category string, keywords []string, params ...checks.ParamSpec) checks.Spec {
	s := checks.Spec{
		ID:          id,
		Description: description,
		Params:      append([]checks.ParamSpec{contextParam, namespaceParam, selectorParam}, params...),
		Keywords:    append([]string{"kubernetes", "k8s", "cluster"}, keywords...),
	}
	if category != "" {
		s.Categories = []string{category}
	}
	return s
}
