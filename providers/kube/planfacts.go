package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/clankerd/clankerd/checks"
)

// workloadFacts is what a scale plan learns about a workload besides its own spec:
// what depends on or manages it, and how much of its requests it uses.
type workloadFacts struct {
	services  []string // names of the Services selecting its pods
	deps      []checks.Dependency
	hpa       *autoscalingv1.HorizontalPodAutoscaler
	pdbs      []policyv1.PodDisruptionBudget
	unknown   []string // kinds that could not be read, and why
	usage     *podUsage
	usageNote string // why usage is nil
}

// podUsage is the summed use and requests of a workload's pods from the metrics API.
type podUsage struct {
	pods                   int
	cpu, mem               resource.Quantity
	haveRequests           bool
	cpuPercent, memPercent float64 // of the pods' requests, when haveRequests
}

// workloadRef is the workload a scale plan reads facts about.
type workloadRef struct {
	kind, ns, name string
	podLabels      labels.Set
}

// factReaders read one kind each, in this order (Ingresses need the Services).
var factReaders = []struct {
	kind string
	read func(ctx context.Context, c *conn, w workloadRef, f *workloadFacts) error
}{
	{"Services", readServices},
	{"Ingresses", readIngresses},
	{"HorizontalPodAutoscalers", readHPA},
	{"PodDisruptionBudgets", readPDBs},
}

// readWorkloadFacts reads, in the workload's namespace, the Services whose selector
// matches its pod template, the Ingresses routing to those Services, the HPA scaling
// it, the PodDisruptionBudgets covering its pods, and its pods' use from
// metrics.k8s.io. A read that fails is recorded as unknown, not as an error: the
// plan is still made, and says what it could not see.
func readWorkloadFacts(ctx context.Context, c *conn, kind string, obj metav1.Object, tmpl *corev1.PodTemplateSpec, selector *metav1.LabelSelector) workloadFacts {
	w := workloadRef{kind: kind, ns: obj.GetNamespace(), name: obj.GetName(), podLabels: labels.Set(tmpl.Labels)}
	var f workloadFacts
	for _, r := range factReaders {
		if err := r.read(ctx, c, w, &f); err != nil {
			f.unknown = append(f.unknown, r.kind+": "+readError(err))
		}
	}
	f.usage, f.usageNote = readPodUsage(ctx, c, w.ns, selector, tmpl)
	return f
}

func readServices(ctx context.Context, c *conn, w workloadRef, f *workloadFacts) error {
	svcs, err := c.client.CoreV1().Services(w.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, s := range svcs.Items {
		if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(w.podLabels) {
			f.services = append(f.services, s.Name)
			f.deps = append(f.deps, checks.Dependency{Resource: ref("service", &s), Relation: "selects its pods (" + string(serviceType(&s)) + ")"})
		}
	}
	return nil
}

func readIngresses(ctx context.Context, c *conn, w workloadRef, f *workloadFacts) error {
	if len(f.services) == 0 {
		return nil
	}
	ings, err := c.client.NetworkingV1().Ingresses(w.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, ing := range ings.Items {
		if routes := ingressRoutes(&ing, f.services); len(routes) > 0 {
			f.deps = append(f.deps, checks.Dependency{Resource: ref("ingress", &ing), Relation: "routes " + strings.Join(routes, ", ")})
		}
	}
	return nil
}

func readHPA(ctx context.Context, c *conn, w workloadRef, f *workloadFacts) error {
	hpas, err := c.client.AutoscalingV1().HorizontalPodAutoscalers(w.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i, h := range hpas.Items {
		if h.Spec.ScaleTargetRef.Kind == w.kind && h.Spec.ScaleTargetRef.Name == w.name {
			f.hpa = &hpas.Items[i]
			f.deps = append(f.deps, checks.Dependency{Resource: ref("hpa", &h), Relation: fmt.Sprintf("manages its replicas (min %d, max %d)", hpaMin(&h), h.Spec.MaxReplicas)})
			return nil
		}
	}
	return nil
}

func readPDBs(ctx context.Context, c *conn, w workloadRef, f *workloadFacts) error {
	pdbs, err := c.client.PolicyV1().PodDisruptionBudgets(w.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, b := range pdbs.Items {
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(w.podLabels) {
			f.pdbs = append(f.pdbs, b)
			f.deps = append(f.deps, checks.Dependency{Resource: ref("pdb", &b), Relation: "guards its pods (" + pdbRule(&b) + ")"})
		}
	}
	return nil
}

func serviceType(s *corev1.Service) corev1.ServiceType {
	if s.Spec.Type == "" {
		return corev1.ServiceTypeClusterIP
	}
	return s.Spec.Type
}

// ingressRoutes lists "HOST/PATH → SERVICE" for every path of ing whose backend is one
// of services.
func ingressRoutes(ing *networkingv1.Ingress, services []string) []string {
	var routes []string
	to := func(host, path string, b *networkingv1.IngressBackend) {
		if b == nil || b.Service == nil || !slices.Contains(services, b.Service.Name) {
			return
		}
		if host == "" {
			host = "*"
		}
		routes = append(routes, host+path+" → service "+b.Service.Name)
	}
	to("", "", ing.Spec.DefaultBackend)
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			to(r.Host, p.Path, &p.Backend)
		}
	}
	return routes
}

func hpaMin(h *autoscalingv1.HorizontalPodAutoscaler) int32 {
	if h.Spec.MinReplicas == nil {
		return 1
	}
	return *h.Spec.MinReplicas
}

func pdbRule(b *policyv1.PodDisruptionBudget) string {
	switch {
	case b.Spec.MinAvailable != nil:
		return "minAvailable " + b.Spec.MinAvailable.String()
	case b.Spec.MaxUnavailable != nil:
		return "maxUnavailable " + b.Spec.MaxUnavailable.String()
	}
	return "no limit"
}

// pdbViolated reports whether going from `from` to `to` pods takes away more than
// the budget allows, measured against the pods there are now. Adding pods never
// violates a budget.
func pdbViolated(b *policyv1.PodDisruptionBudget, from, to int) bool {
	switch {
	case to >= from:
		return false
	case b.Spec.MinAvailable != nil:
		need, err := intstr.GetScaledValueFromIntOrPercent(b.Spec.MinAvailable, from, true)
		return err == nil && to < need
	case b.Spec.MaxUnavailable != nil:
		allowed, err := intstr.GetScaledValueFromIntOrPercent(b.Spec.MaxUnavailable, from, true)
		return err == nil && from-to > allowed
	}
	return false
}

func readError(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return "forbidden (grant list in contrib/kubernetes/clankerd-read.yaml)"
	case apierrors.IsNotFound(err):
		return "the API is not served"
	}
	return err.Error()
}

// metricsPodList is the part of metrics.k8s.io/v1beta1 PodMetricsList a plan reads
// (the wire format kubectl top reads).
type metricsPodList struct {
	Items []struct {
		Containers []struct {
			Usage map[corev1.ResourceName]resource.Quantity `json:"usage"`
		} `json:"containers"`
	} `json:"items"`
}

// metricsPath is where the metrics API lists the pods of a namespace.
const metricsPath = "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods"

// readPodUsage sums the CPU and memory use of the workload's pods from the metrics
// API and compares it with what the pods request. It returns nil and why when it
// cannot.
func readPodUsage(ctx context.Context, c *conn, ns string, selector *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec) (*podUsage, string) {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return nil, "utilization unknown: the selector is invalid: " + err.Error()
	}
	raw, err := c.client.CoreV1().RESTClient().Get().AbsPath(fmt.Sprintf(metricsPath, ns)).
		Param("labelSelector", sel.String()).SetHeader("Accept", "application/json").DoRaw(ctx)
	switch {
	case apierrors.IsNotFound(err):
		return nil, "utilization unknown: no metrics API"
	case err != nil:
		return nil, "utilization unknown: reading metrics.k8s.io: " + readError(err)
	}
	var list metricsPodList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, "utilization unknown: metrics.k8s.io answered something that is not a PodMetricsList: " + err.Error()
	}
	if len(list.Items) == 0 {
		return nil, "utilization unknown: the metrics API has no samples for its pods"
	}
	u := &podUsage{pods: len(list.Items)}
	for _, p := range list.Items {
		for _, ct := range p.Containers {
			u.cpu.Add(ct.Usage[corev1.ResourceCPU])
			u.mem.Add(ct.Usage[corev1.ResourceMemory])
		}
	}
	cpuReq, memReq, complete := podRequests(&tmpl.Spec)
	if complete && !cpuReq.IsZero() && !memReq.IsZero() {
		u.haveRequests = true
		u.cpuPercent = 100 * u.cpu.AsApproximateFloat64() / (float64(u.pods) * cpuReq.AsApproximateFloat64())
		u.memPercent = 100 * u.mem.AsApproximateFloat64() / (float64(u.pods) * memReq.AsApproximateFloat64())
	}
	return u, ""
}

// String says the use in words: "CPU 4% of requests, memory 21% of requests over 4
// pods (metrics.k8s.io)".
func (u *podUsage) String() string {
	if !u.haveRequests {
		return fmt.Sprintf("CPU %s, memory %s in use over %d pods (metrics.k8s.io); the pods do not request both, so no share", u.cpu.String(), u.mem.String(), u.pods)
	}
	return fmt.Sprintf("CPU %.0f%% of requests, memory %.0f%% of requests over %d pods (metrics.k8s.io)", u.cpuPercent, u.memPercent, u.pods)
}

// judgeScale sets the plan's risk from the facts, each reason recorded. The rules are
// documented in docs/kubernetes.md ("How plans judge risk").
func judgeScale(plan *checks.Plan, f workloadFacts, from, to int) {
	plan.Risk = checks.RiskLow
	plan.Dependencies = f.deps
	scale := checks.ScaleFacts{From: from, To: to, Unit: "replica", Load: "of requests",
		DependentsAre: "Services and Ingresses", NoDependents: "no Service or Ingress depends on it"}
	if f.usage != nil {
		plan.Utilization = f.usage.String()
		if f.usage.haveRequests {
			scale.CPU, scale.Memory = &f.usage.cpuPercent, &f.usage.memPercent
		}
	} else {
		plan.Utilization = f.usageNote
	}
	if f.hpa != nil {
		plan.Raise(checks.RiskHigh, fmt.Sprintf("the HPA %s manages the replicas (min %d, max %d): a manual scale is undone at its next sync; change the HPA instead", f.hpa.Name, hpaMin(f.hpa), f.hpa.Spec.MaxReplicas))
	}
	for i := range f.pdbs {
		if pdbViolated(&f.pdbs[i], from, to) {
			plan.Raise(checks.RiskHigh, fmt.Sprintf("%d → %d pods violates the PodDisruptionBudget %s (%s)", from, to, f.pdbs[i].Name, pdbRule(&f.pdbs[i])))
		}
	}
	for _, u := range f.unknown {
		plan.Raise(checks.RiskMedium, "could not read "+u)
	}
	scale.Dependents = len(f.deps) - len(f.pdbs)
	if f.hpa != nil {
		scale.Dependents--
	}
	checks.JudgeScale(plan, scale)
}
