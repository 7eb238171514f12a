package kube

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"

	"github.com/clankerd/clankerd/checks"
)

// task is one Kubernetes write task.
type task struct {
	spec  checks.Spec
	p     *Provider
	plan  func(ctx context.Context, c *conn, params checks.Params) (checks.Plan, error)
	apply func(ctx context.Context, c *conn, plan checks.Plan) (checks.Applied, error)
	fix   func(f checks.Finding) (map[string]string, bool)
}

var (
	_ checks.Task       = (*task)(nil)
	_ checks.Remediator = (*task)(nil)
)

func (t *task) Spec() checks.Spec { return t.spec }

func (t *task) Plan(ctx context.Context, params checks.Params) (checks.Plan, error) {
	c, err := t.p.connect(params.Get("context"))
	if err != nil {
		return checks.Plan{}, err
	}
	plan, err := t.plan(ctx, c, params)
	if err != nil {
		return checks.Plan{}, err
	}
	plan.Observed["context"] = c.name
	checks.NameRisk(&plan, "context", c.name)
	return plan, nil
}

func (t *task) Apply(ctx context.Context, plan checks.Plan) (checks.Applied, error) {
	c, err := t.p.connect(plan.Params.Get("context"))
	if err != nil {
		return checks.Applied{}, err
	}
	if c.name != plan.Observed["context"] {
		return checks.Applied{}, &checks.DriftError{Target: plan.Target, Fields: []checks.Drift{{Field: "context", Planned: plan.Observed["context"], Live: c.name}}}
	}
	return t.apply(ctx, c, plan)
}

func (t *task) FixParams(f checks.Finding) (map[string]string, bool) {
	if t.fix == nil {
		return nil, false
	}
	return t.fix(f)
}

var namespacedName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

func validateNamespacedName(s string) error {
	if !namespacedName.MatchString(s) {
		return fmt.Errorf("%q is not NAMESPACE/NAME", s)
	}
	return nil
}

func splitName(s string) (ns, name string) {
	ns, name, _ = strings.Cut(s, "/")
	return ns, name
}

func nonNegative(s string) error {
	if n, err := strconv.Atoi(s); err == nil && n < 0 {
		return errors.New("must not be negative")
	}
	return nil
}

// fixFor aims a task at findings on resources of one kind: "deployment/ns/name" gives
// {param: "ns/name"}.
func fixFor(kind, param string) func(checks.Finding) (map[string]string, bool) {
	return func(f checks.Finding) (map[string]string, bool) {
		rest, ok := strings.CutPrefix(f.Resource, kind+"/")
		if !ok || rest == "" {
			return nil, false
		}
		return map[string]string{param: rest}, true
	}
}

func (p *Provider) taskList() []checks.Task {
	deployment := checks.ParamSpec{Name: "deployment", Type: checks.String, Required: true, Validate: validateNamespacedName, Doc: "NAMESPACE/NAME of the Deployment"}
	wantReplicas := checks.ParamSpec{Name: "replicas", Type: checks.Int, Required: true, Validate: nonNegative, Doc: "desired replicas"}
	node := checks.ParamSpec{Name: "node", Type: checks.String, Required: true, Doc: "name of the node"}
	taskSpec := func(id, desc string, keywords, verbs []string, params ...checks.ParamSpec) checks.Spec {
		return checks.Spec{ID: id, Description: desc, Params: append([]checks.ParamSpec{contextParam}, params...), Keywords: append([]string{"kubernetes", "k8s"}, keywords...), Verbs: verbs}
	}
	return []checks.Task{
		&task{p: p, plan: p.planScale(deploymentScale), apply: p.applyScale(deploymentScale),
			spec: taskSpec("k8s.deployment.scale", "scale a Deployment to a number of replicas", []string{"scale", "replicas", "scale up", "scale down"}, []string{"scale", "resize"},
				deployment, wantReplicas, priceCPUParam, priceMemParam)},
		&task{p: p, plan: p.planScale(statefulSetScale), apply: p.applyScale(statefulSetScale),
			spec: taskSpec("k8s.statefulset.scale", "scale a StatefulSet to a number of replicas", []string{"statefulset", "stateful set", "sts"}, []string{"scale"},
				checks.ParamSpec{Name: "statefulset", Type: checks.String, Required: true, Validate: validateNamespacedName, Doc: "NAMESPACE/NAME of the StatefulSet"},
				wantReplicas, priceCPUParam, priceMemParam)},
		&task{p: p, plan: p.planRestart, apply: p.applyRestart, fix: fixFor("deployment", "deployment"),
			spec: taskSpec("k8s.deployment.restart", "rollout restart of a Deployment: replace its pods one by one", []string{"restart", "rollout", "bounce"}, []string{"restart", "bounce"}, deployment)},
		&task{p: p, plan: p.planCordon(true), apply: p.applyCordon(true), fix: fixFor("node", "node"),
			spec: taskSpec("k8s.node.cordon", "mark a node unschedulable", []string{"cordon", "drain", "maintenance"}, []string{"cordon", "drain"}, node)},
		&task{p: p, plan: p.planCordon(false), apply: p.applyCordon(false), fix: fixFor("node", "node"),
			spec: taskSpec("k8s.node.uncordon", "mark a node schedulable again", []string{"uncordon", "schedulable"}, []string{"uncordon"}, node)},
		&task{p: p, plan: p.planPodDelete, apply: p.applyPodDelete, fix: fixFor("pod", "pod"),
			spec: taskSpec("k8s.pod.delete", "delete a pod (its controller, if any, replaces it)", []string{"delete pod", "kill pod", "evict"}, []string{"delete", "kill", "evict"},
				checks.ParamSpec{Name: "pod", Type: checks.String, Required: true, Validate: validateNamespacedName, Doc: "NAMESPACE/NAME of the pod"})},
	}
}

// drifted compares the fields Apply cares about (resourceVersion moves with every
// status update, so it is shown but not compared).
func drifted(plan checks.Plan, live map[string]string, keys ...string) error {
	planned, now := map[string]string{}, map[string]string{}
	for _, k := range keys {
		planned[k], now[k] = plan.Observed[k], live[k]
	}
	return checks.CompareObserved(plan.Target, planned, now)
}

// casUpdate re-reads, compares and writes with the object's resourceVersion, retrying
// when something else (a status update) wrote in between, and giving up with a drift
// when the compared fields changed.
func casUpdate[T any](ctx context.Context, get func(ctx context.Context) (*T, error), compare func(*T) error, write func(ctx context.Context, obj *T) error) error {
	for attempt := 0; ; attempt++ {
		obj, err := get(ctx)
		if err != nil {
			return err
		}
		if err := compare(obj); err != nil {
			return err
		}
		err = write(ctx, obj)
		if !apierrors.IsConflict(err) || attempt == 4 {
			return err
		}
	}
}

func goneDrift(target string, err error) error {
	if apierrors.IsNotFound(err) {
		return &checks.DriftError{Target: target, Fields: []checks.Drift{{Field: "exists", Planned: "true", Live: ""}}}
	}
	return err
}

// workloadState is what a plan on a Deployment or StatefulSet observes and Apply
// compares.
func workloadState(o metav1.Object, want *int32) map[string]string {
	return map[string]string{
		"replicas":         strconv.Itoa(replicas(want)),
		"generation":       strconv.FormatInt(o.GetGeneration(), 10),
		"resource_version": o.GetResourceVersion(),
		"uid":              string(o.GetUID()),
	}
}

func deploymentState(d *appsv1.Deployment) map[string]string {
	return workloadState(d, d.Spec.Replicas)
}

// scaled is the part of a Deployment or StatefulSet the scale task reads.
type scaled struct {
	obj      metav1.Object
	replicas *int32
	template *corev1.PodTemplateSpec
	selector *metav1.LabelSelector
}

// scaleKind is a kind of workload the scale task resizes through its scale
// subresource: how to read one and how to write its scale.
type scaleKind struct {
	kind  string // as an HPA's scaleTargetRef names it: "Deployment"
	param string // the task's parameter naming it, NAMESPACE/NAME: "deployment"
	get   func(ctx context.Context, c *conn, ns, name string) (scaled, error)
	scale func(ctx context.Context, c *conn, ns string, s *autoscalingv1.Scale) error
}

// scaleClient is what the scale task uses of a typed client of one kind
// (appsv1client.DeploymentInterface, StatefulSetInterface).
type scaleClient[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*T, error)
	UpdateScale(ctx context.Context, name string, scale *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error)
}

// scaleKindOf makes the scaleKind of a kind from its typed client and the parts of
// its object the task reads.
func scaleKindOf[T any](kind, param string, client func(c *conn, ns string) scaleClient[T], parts func(*T) scaled) scaleKind {
	return scaleKind{kind: kind, param: param,
		get: func(ctx context.Context, c *conn, ns, name string) (scaled, error) {
			obj, err := client(c, ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return scaled{}, err
			}
			return parts(obj), nil
		},
		scale: func(ctx context.Context, c *conn, ns string, s *autoscalingv1.Scale) error {
			_, err := client(c, ns).UpdateScale(ctx, s.Name, s, metav1.UpdateOptions{})
			return err
		}}
}

var (
	deploymentScale = scaleKindOf("Deployment", "deployment",
		func(c *conn, ns string) scaleClient[appsv1.Deployment] { return c.client.AppsV1().Deployments(ns) },
		func(d *appsv1.Deployment) scaled {
			return scaled{d, d.Spec.Replicas, &d.Spec.Template, d.Spec.Selector}
		})
	statefulSetScale = scaleKindOf("StatefulSet", "statefulset",
		func(c *conn, ns string) scaleClient[appsv1.StatefulSet] { return c.client.AppsV1().StatefulSets(ns) },
		func(st *appsv1.StatefulSet) scaled {
			return scaled{st, st.Spec.Replicas, &st.Spec.Template, st.Spec.Selector}
		})
)

// planScale plans resizing a workload of kind k: the replica change, its cost from
// the pods' requests, and the risk judged from the facts around it.
func (p *Provider) planScale(k scaleKind) func(ctx context.Context, c *conn, params checks.Params) (checks.Plan, error) {
	return func(ctx context.Context, c *conn, params checks.Params) (checks.Plan, error) {
		ns, name := splitName(params.Get(k.param))
		w, err := k.get(ctx, c, ns, name)
		if err != nil {
			return checks.Plan{}, c.apiError("reading", k.param+" "+ns+"/"+name, err)
		}
		from, to := replicas(w.replicas), params.Int("replicas")
		plan := checks.Plan{
			Target:   ref(k.param, w.obj),
			Observed: workloadState(w.obj, w.replicas),
			Change:   fmt.Sprintf("replicas %d → %d", from, to),
			Risk:     checks.RiskLow,
		}
		cpu, mem, complete := podRequests(&w.template.Spec)
		plan.Observed["pod_cpu_request"], plan.Observed["pod_memory_request"] = cpu.String(), mem.String()
		delta := float64(to - from)
		if complete {
			plan.Change += fmt.Sprintf("; requests %+.3g CPU, %+.3g GiB memory", delta*cpu.AsApproximateFloat64(), delta*mem.AsApproximateFloat64()/(1<<30))
			cost := p.prices(params).monthlyCost(delta*cpu.AsApproximateFloat64(), delta*mem.AsApproximateFloat64())
			plan.MonthlyCostChangeUSD = &cost
			plan.CostNote = "from the pods' requests at the configured prices per vCPU-hour and GiB-hour"
		} else {
			plan.CostNote = "the pod template does not request CPU and memory for every container"
		}
		judgeScale(&plan, readWorkloadFacts(ctx, c, k.kind, w.obj, w.template, w.selector), from, to)
		checks.NameRisk(&plan, "namespace", ns)
		plan.Preconditions = []string{fmt.Sprintf("replicas is still %d and the spec generation still %d", from, w.obj.GetGeneration())}
		return plan, nil
	}
}

// applyScale re-reads the plan's workload, refuses when it drifted from what the plan
// saw (uid, replicas, generation), and writes its scale subresource with the
// resourceVersion it read, retrying on conflicts.
func (p *Provider) applyScale(k scaleKind) func(ctx context.Context, c *conn, plan checks.Plan) (checks.Applied, error) {
	return func(ctx context.Context, c *conn, plan checks.Plan) (checks.Applied, error) {
		want := int32(plan.Params.Int("replicas"))
		ns, name := splitName(plan.Params.Get(k.param))
		err := casUpdate(ctx,
			func(ctx context.Context) (*scaled, error) {
				w, err := k.get(ctx, c, ns, name)
				return &w, goneDrift(plan.Target, err)
			},
			func(w *scaled) error {
				return drifted(plan, workloadState(w.obj, w.replicas), "uid", "replicas", "generation")
			},
			func(ctx context.Context, w *scaled) error {
				return k.scale(ctx, c, ns, &autoscalingv1.Scale{
					ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: w.obj.GetResourceVersion()},
					Spec:       autoscalingv1.ScaleSpec{Replicas: want},
				})
			})
		if err != nil {
			return checks.Applied{}, c.apiError("scaling", plan.Target, err)
		}
		return checks.Applied{Summary: fmt.Sprintf("scaled %s to %d replicas", plan.Target, want), After: map[string]string{"replicas": strconv.Itoa(int(want))}}, nil
	}
}

// updateDeployment re-reads the plan's Deployment, refuses when it drifted from what
// the plan saw (uid, replicas, generation), and lets write change it, retrying on
// conflicts.
func updateDeployment(ctx context.Context, c *conn, plan checks.Plan, write func(context.Context, appsv1client.DeploymentInterface, *appsv1.Deployment) error) error {
	ns, name := splitName(plan.Params.Get("deployment"))
	deps := c.client.AppsV1().Deployments(ns)
	return casUpdate(ctx,
		func(ctx context.Context) (*appsv1.Deployment, error) {
			d, err := deps.Get(ctx, name, metav1.GetOptions{})
			return d, goneDrift(plan.Target, err)
		},
		func(d *appsv1.Deployment) error {
			return drifted(plan, deploymentState(d), "uid", "replicas", "generation")
		},
		func(ctx context.Context, d *appsv1.Deployment) error { return write(ctx, deps, d) })
}

// restartedAtAnnotation is what `kubectl rollout restart` sets.
const restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

func (p *Provider) planRestart(ctx context.Context, c *conn, params checks.Params) (checks.Plan, error) {
	ns, name := splitName(params.Get("deployment"))
	d, err := c.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return checks.Plan{}, c.apiError("reading", "deployment "+ns+"/"+name, err)
	}
	n := replicas(d.Spec.Replicas)
	plan := checks.Plan{
		Target:      ref("deployment", d),
		Observed:    deploymentState(d),
		Change:      fmt.Sprintf("rollout restart: replace %d pods one by one", n),
		Risk:        checks.RiskMedium,
		RiskReasons: []string{"every pod restarts; in-flight requests on old pods may fail"},
	}
	zero := 0.0
	plan.MonthlyCostChangeUSD = &zero
	if n < 2 {
		plan.RiskReasons = append(plan.RiskReasons, "a single replica: a short gap is possible")
	}
	checks.NameRisk(&plan, "namespace", ns)
	return plan, nil
}

func (p *Provider) applyRestart(ctx context.Context, c *conn, plan checks.Plan) (checks.Applied, error) {
	at := p.now().UTC().Format(time.RFC3339)
	err := updateDeployment(ctx, c, plan,
		func(ctx context.Context, deps appsv1client.DeploymentInterface, d *appsv1.Deployment) error {
			if d.Spec.Template.Annotations == nil {
				d.Spec.Template.Annotations = map[string]string{}
			}
			d.Spec.Template.Annotations[restartedAtAnnotation] = at
			_, err := deps.Update(ctx, d, metav1.UpdateOptions{})
			return err
		})
	if err != nil {
		return checks.Applied{}, c.apiError("restarting", plan.Target, err)
	}
	return checks.Applied{Summary: "restarted " + plan.Target, After: map[string]string{restartedAtAnnotation: at}}, nil
}

func nodeState(n *corev1.Node) map[string]string {
	return map[string]string{"unschedulable": strconv.FormatBool(n.Spec.Unschedulable), "uid": string(n.UID), "resource_version": n.ResourceVersion}
}

func (p *Provider) planCordon(cordon bool) func(ctx context.Context, c *conn, params checks.Params) (checks.Plan, error) {
	return func(ctx context.Context, c *conn, params checks.Params) (checks.Plan, error) {
		name := params.Get("node")
		n, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return checks.Plan{}, c.apiError("reading", "node "+name, err)
		}
		pods, err := c.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", name).String()})
		if err != nil {
			return checks.Plan{}, c.apiError("listing", "pods on node "+name, err)
		}
		running := 0
		for _, pod := range pods.Items {
			if pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodPending {
				running++
			}
		}
		plan := checks.Plan{Target: ref("node", n), Observed: nodeState(n), Risk: checks.RiskLow}
		plan.Observed["pods"] = strconv.Itoa(running)
		zero := 0.0
		plan.MonthlyCostChangeUSD = &zero
		if cordon {
			plan.Change = "unschedulable false → true: no new pods land there"
			plan.Risk = checks.RiskMedium
			plan.RiskReasons = []string{"less capacity for new pods"}
			if running > 0 {
				plan.Risk = checks.RiskHigh
				plan.RiskReasons = append(plan.RiskReasons, fmt.Sprintf("%d pods run on the node; a drain would move them", running))
			}
		} else {
			plan.Change = "unschedulable true → false: pods may land there again"
			plan.RiskReasons = []string{"adds capacity back"}
		}
		return plan, nil
	}
}

func (p *Provider) applyCordon(cordon bool) func(ctx context.Context, c *conn, plan checks.Plan) (checks.Applied, error) {
	return func(ctx context.Context, c *conn, plan checks.Plan) (checks.Applied, error) {
		nodes := c.client.CoreV1().Nodes()
		name := plan.Params.Get("node")
		err := casUpdate(ctx,
			func(ctx context.Context) (*corev1.Node, error) {
				n, err := nodes.Get(ctx, name, metav1.GetOptions{})
				return n, goneDrift(plan.Target, err)
			},
			func(n *corev1.Node) error { return drifted(plan, nodeState(n), "uid", "unschedulable") },
			func(ctx context.Context, n *corev1.Node) error {
				n.Spec.Unschedulable = cordon
				_, err := nodes.Update(ctx, n, metav1.UpdateOptions{})
				return err
			})
		if err != nil {
			return checks.Applied{}, c.apiError("updating", plan.Target, err)
		}
		return checks.Applied{Summary: fmt.Sprintf("%s is now unschedulable=%t", plan.Target, cordon), After: map[string]string{"unschedulable": strconv.FormatBool(cordon)}}, nil
	}
}

func podState(pod *corev1.Pod) map[string]string {
	owner := "none"
	if o := metav1.GetControllerOf(pod); o != nil {
		owner = o.Kind + "/" + o.Name
	}
	return map[string]string{"uid": string(pod.UID), "phase": string(pod.Status.Phase), "node": pod.Spec.NodeName, "controller": owner}
}

func (p *Provider) planPodDelete(ctx context.Context, c *conn, params checks.Params) (checks.Plan, error) {
	ns, name := splitName(params.Get("pod"))
	pod, err := c.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return checks.Plan{}, c.apiError("reading", "pod "+ns+"/"+name, err)
	}
	st := podState(pod)
	plan := checks.Plan{Target: ref("pod", pod), Observed: st, Change: "delete the pod", Risk: checks.RiskMedium,
		RiskReasons: []string{"its containers stop; the controller " + st["controller"] + " replaces it"}}
	zero := 0.0
	plan.MonthlyCostChangeUSD = &zero
	if st["controller"] == "none" {
		plan.Risk = checks.RiskHigh
		plan.RiskReasons = []string{"a bare pod: nothing recreates it"}
	}
	checks.NameRisk(&plan, "namespace", ns)
	return plan, nil
}

func (p *Provider) applyPodDelete(ctx context.Context, c *conn, plan checks.Plan) (checks.Applied, error) {
	ns, name := splitName(plan.Params.Get("pod"))
	pods := c.client.CoreV1().Pods(ns)
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return checks.Applied{}, c.apiError("reading", plan.Target, goneDrift(plan.Target, err))
	}
	if err := drifted(plan, podState(pod), "uid", "controller", "node"); err != nil {
		return checks.Applied{}, err
	}
	uid := pod.UID
	err = pods.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return checks.Applied{}, goneDrift(plan.Target, apierrors.NewNotFound(corev1.Resource("pods"), name))
	}
	if err != nil {
		return checks.Applied{}, c.apiError("deleting", plan.Target, err)
	}
	return checks.Applied{Summary: "deleted " + plan.Target}, nil
}
