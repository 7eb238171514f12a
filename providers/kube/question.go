package kube

import (
	"cmp"
	"context"
	"regexp"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clankerd/clankerd/checks"
)

// The words questions use for Kubernetes: the names that exist and the parameters a
// question gives.
var (
	_ checks.Vocabulary = (*Provider)(nil)
	_ checks.Extractor  = (*Provider)(nil)
)

// namespaceOf finds the namespace a question names: "namespace shop", "in the shop
// namespace".
var namespaceOf = regexp.MustCompile(`(?:namespace\s+([a-z0-9-]+)|in\s+(?:the\s+)?([a-z0-9-]+)\s+namespace)`)

// The verbs whose object a question names: "restart deployment checkout", "drain node
// worker-3".
var (
	deploymentVerbs = []string{"scale", "restart"}
	nodeVerbs       = []string{"cordon", "uncordon", "drain"}
)

// Names lists the kubeconfig's contexts and the current context's namespaces, so
// that a question naming one can be routed to it. It never fails: what cannot be read
// in two seconds is left out.
func (p *Provider) Names(ctx context.Context) map[string][]string {
	out := map[string][]string{}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if p.opts.Kubeconfig != "" {
		rules.ExplicitPath = p.opts.Kubeconfig
	}
	raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).RawConfig()
	if err != nil || len(raw.Contexts) == 0 {
		return out
	}
	for name := range raw.Contexts {
		out["context"] = append(out["context"], name)
	}
	sort.Strings(out["context"])
	c, err := p.connect("")
	if err != nil {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	list, err := c.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		p.log.Debug("listing namespaces for routing", "err", err)
		return out
	}
	for _, ns := range list.Items {
		out["namespace"] = append(out["namespace"], ns.Name)
	}
	return out
}

// Extract takes the parameters of the Kubernetes checks and tasks from a question: the
// namespace it names, contexts and namespaces that exist, "production" for the one
// context (or else namespace) named like it, NAMESPACE/NAME for a Deployment or pod,
// the Deployment after "scale" or "restart" and the node after "cordon" or "drain".
func (p *Provider) Extract(q checks.Question, spec checks.Spec, names map[string][]string) []checks.Proposal {
	e := checks.NewExtraction(spec)
	named := namedNamespace(q)
	existing := q.Name(names["namespace"])
	e.Set("namespace", named, "the question")
	e.Set("namespace", existing, "a namespace that exists")
	e.Set("context", q.Name(names["context"]), "a kubeconfig context")
	for _, kind := range []string{"context", "namespace"} {
		if e.Declares(kind) && e.Value(kind) == "" {
			if prod := q.Production(names[kind]); prod != "" {
				e.Set(kind, prod, `"production"`)
				break
			}
		}
	}
	for _, w := range q.Words {
		if namespacedName.MatchString(w) {
			e.Set("deployment", w, "the question")
			e.Set("pod", w, "the question")
		}
	}
	if e.Declares("deployment") && e.Value("deployment") == "" {
		name := q.After(deploymentVerbs, "deployment")
		if ns := cmp.Or(e.Value("namespace"), named, existing); name != "" && ns != "" {
			e.Set("deployment", ns+"/"+name, "the question")
		}
	}
	e.Set("node", q.After(nodeVerbs, "node"), "the question")
	return e.Proposals()
}

// namedNamespace is the namespace the question names, "" when it names none.
func namedNamespace(q checks.Question) string {
	m := namespaceOf.FindStringSubmatch(q.Lower)
	if m == nil {
		return ""
	}
	return m[1] + m[2]
}

// Owns reports whether check is one of the provider's: a question about a category
// ("anything exposed?") runs it only when a kubeconfig names a context.
func (p *Provider) Owns(check string) bool { return strings.HasPrefix(check, "k8s.") }
