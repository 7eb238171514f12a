package kube

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
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

// Names lists the kubeconfig's contexts, the current context's namespaces and its
// Deployments, so that a question naming one can be routed to it: "deployment" holds
// NAMESPACE/NAME, "replicas" NAMESPACE/NAME=N (the desired replicas, for "2 more
// replicas"). Deployments come from the round's shared read (the daemon's watch
// cache). It never fails: what cannot be read in two seconds is left out.
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
	deployments, err := readDeployments(ctx, c)
	if err != nil {
		p.log.Debug("listing deployments for routing", "err", err)
		return out
	}
	for _, d := range deployments {
		name := d.namespace + "/" + d.name
		out["deployment"] = append(out["deployment"], name)
		out["replicas"] = append(out["replicas"], name+"="+strconv.Itoa(d.replicas))
	}
	sort.Strings(out["deployment"])
	sort.Strings(out["replicas"])
	return out
}

// Extract takes the parameters of the Kubernetes checks and tasks from a question: the
// namespace it names, contexts and namespaces that exist, "production" for the one
// context (or else namespace) named like it, NAMESPACE/NAME for a Deployment, a
// StatefulSet (when the question says so) or a pod, the Deployment after "scale" or
// "restart", the StatefulSet after "statefulset" in a namespace the question gives,
// and the node after "cordon" or "drain".
func (p *Provider) Extract(q checks.Question, spec checks.Spec, names map[string][]string) []checks.Proposal {
	e := checks.NewExtraction(spec)
	named := namedNamespace(q)
	existing := q.Name(names["namespace"])
	e.Set("namespace", named, "the question")
	e.Set("namespace", existing, "a namespace that exists")
	e.Set("context", q.Name(names["context"]), "a kubeconfig context")
	// "production" means the context (or namespace) that looks like it, unless the
	// question names the namespace production.
	for _, kind := range []string{"context", "namespace"} {
		if e.Declares(kind) && e.Value(kind) == "" && named != "production" && named != "prod" {
			if prod := q.Production(names[kind]); prod != "" {
				e.Set(kind, prod, `"production"`)
				break
			}
		}
	}
	// A question about a StatefulSet names no Deployment: its NAMESPACE/NAME is the
	// StatefulSet's.
	workload := "deployment"
	if mentionsStatefulSet(q) {
		workload = "statefulset"
	}
	for _, w := range q.Words {
		if namespacedName.MatchString(w) {
			e.Set(workload, w, "the question")
			e.Set("pod", w, "the question")
		}
	}
	ns := cmp.Or(e.Value("namespace"), named, existing)
	if workload == "deployment" && e.Declares("deployment") && e.Value("deployment") == "" {
		setDeployment(e, q, ns, names["deployment"])
	}
	if workload == "statefulset" && e.Value("statefulset") == "" && ns != "" {
		if name := q.After(statefulSetWords); name != "" {
			e.Set("statefulset", ns+"/"+name, "the question")
		}
	}
	if e.Declares("replicas") {
		setRelativeReplicas(e, q, names["replicas"])
	}
	e.Set("node", q.After(nodeVerbs, "node"), "the question")
	return e.Proposals()
}

// setDeployment takes the Deployment a question names without its namespace: the
// word after "scale" or "restart", or a word that is the name of a Deployment that
// exists. With a namespace in the question it is NAMESPACE/NAME; without, the one
// namespace of existing that has a Deployment of that name, or, when several have,
// none (the candidates are listed).
func setDeployment(e *checks.Extraction, q checks.Question, ns string, existing []string) {
	name := q.After(deploymentVerbs, "deployment", "down")
	if name == "" {
		for _, w := range q.Words {
			if len(deploymentsNamed(existing, w)) > 0 {
				name = w
				break
			}
		}
	}
	if name == "" {
		return
	}
	if ns != "" {
		e.Set("deployment", ns+"/"+name, "the question")
		return
	}
	found := deploymentsNamed(existing, name)
	if len(found) == 1 {
		e.Set("deployment", found[0], "the one Deployment named "+strconv.Quote(name))
		return
	}
	e.Ambiguous("deployment", found, strconv.Quote(name)+" (a Deployment in several namespaces)")
}

// deploymentsNamed are the NAMESPACE/NAME of existing whose NAME is name.
func deploymentsNamed(existing []string, name string) []string {
	var out []string
	for _, d := range existing {
		if _, n, _ := strings.Cut(d, "/"); n == name {
			out = append(out, d)
		}
	}
	return out
}

// What a relative number of replicas looks like: "+2", "-1", "2 more", "2
// additional", "2 extra", "2 fewer", "by 2" (up, or down when the question says so).
var (
	signedNumber = regexp.MustCompile(`(?:^|\s)([+-])(\d+)\b`)
	moreNumber   = regexp.MustCompile(`\b(\d+)\s+(more|additional|extra|fewer|less)\b`)
	byNumber     = regexp.MustCompile(`\bby\s+(\d+)\b`)
)

// setRelativeReplicas turns a relative number of replicas into the absolute one the
// scale task takes, from the desired replicas of the Deployment as Names read them
// (NAMESPACE/NAME=N): "2 more replicas" of a Deployment at 4 is replicas=6. A relative
// number for a Deployment whose count is not known sets nothing, so the question
// asks for replicas.
func setRelativeReplicas(e *checks.Extraction, q checks.Question, counts []string) {
	delta, from := 0, ""
	if m := signedNumber.FindStringSubmatch(q.Lower); m != nil {
		delta, _ = strconv.Atoi(m[2])
		if m[1] == "-" {
			delta = -delta
		}
		from = strings.TrimSpace(m[0])
	} else if m := moreNumber.FindStringSubmatch(q.Lower); m != nil {
		delta, _ = strconv.Atoi(m[1])
		if m[2] == "fewer" || m[2] == "less" {
			delta = -delta
		}
		from = m[0]
	} else if m := byNumber.FindStringSubmatch(q.Lower); m != nil {
		delta, _ = strconv.Atoi(m[1])
		if q.Mentions("down", "reduce", "remove", "decrease") {
			delta = -delta
		}
		from = m[0]
	}
	deployment := e.Value("deployment")
	if from == "" || deployment == "" {
		return
	}
	for _, c := range counts {
		if name, n, _ := strings.Cut(c, "="); name == deployment {
			current, err := strconv.Atoi(n)
			if err != nil {
				return
			}
			e.Set("replicas", strconv.Itoa(current+delta), fmt.Sprintf("%q on %d replicas", from, current))
			return
		}
	}
}

// statefulSetWords name the kind: "scale statefulset db", "stateful set db", "sts db".
var statefulSetWords = []string{"statefulset", "sts", "set"}

// mentionsStatefulSet reports whether the question is about a StatefulSet.
func mentionsStatefulSet(q checks.Question) bool {
	return q.Mentions("statefulset", "sts") || strings.Contains(q.Lower, "stateful set")
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
