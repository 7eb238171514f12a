package kube

import (
	"context"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/checks"
)

// compactPod is what the checks read of a Pod, and nothing more. A decoded, slimmed
// corev1.Pod still costs over a kilobyte before any field is set; at 10,000 pods the
// typed structs were most of a check's memory, so a round keeps pods in this form and
// lets each decoded page go at once. Its parts are shared with equal pods (the
// replicas of a workload): read-only, like every object read returns.
type compactPod struct {
	compactMeta
	created time.Time
	// workload names what answers for the pod: its Deployment (through the
	// ReplicaSet), other controller, or the pod itself (workloadOf).
	workload string
	// controller is the kind of the pod's controller ("ReplicaSet", "Job", ...), or
	// "" when it has none.
	controller string

	phase            corev1.PodPhase
	why              *statusReason        // nil when the status gives no reason or message
	ready, scheduled *corev1.PodCondition // nil when the status has none
	containers       *podContainers       // nil when the status has no container statuses
	spec             *checkedPodSpec
}

// statusReason is a pod status's reason and message, which only pods in trouble have.
type statusReason struct{ reason, message string }

// podContainers are the statuses of a pod's init containers and containers, shared
// by pods with equal ones.
type podContainers struct{ init, main []containerStatus }

// reason and message are the pod status's, "" when it gives none.
func (p *compactPod) reason() string {
	if p.why == nil {
		return ""
	}
	return p.why.reason
}

func (p *compactPod) message() string {
	if p.why == nil {
		return ""
	}
	return p.why.message
}

// initStatuses and statuses are the statuses of the pod's init containers and
// containers.
func (p *compactPod) initStatuses() []containerStatus {
	if p.containers == nil {
		return nil
	}
	return p.containers.init
}

func (p *compactPod) statuses() []containerStatus {
	if p.containers == nil {
		return nil
	}
	return p.containers.main
}

// containerStatus is what the checks read of a container's status: why it waits or
// last terminated, and how often it restarted.
type containerStatus struct {
	name string
	// waiting is the reason the container waits, terminated and lastTerminated
	// the reasons of its current and previous termination; "" when there is none.
	waiting, terminated, lastTerminated string
	restarts                            int32
}

// compactMeta is what scope and ref read of an object's metadata (named), for the
// compact forms.
type compactMeta struct {
	name, namespace string
	labels          map[string]string
}

func (m *compactMeta) GetName() string              { return m.name }
func (m *compactMeta) GetNamespace() string         { return m.namespace }
func (m *compactMeta) GetLabels() map[string]string { return m.labels }

// meta interns the metadata of o for a compact form.
func (in *interner) meta(o metav1.Object) compactMeta {
	return compactMeta{name: o.GetName(), namespace: in.str(o.GetNamespace()), labels: in.strMap(o.GetLabels())}
}

// finished reports whether the pod succeeded or failed.
func (p *compactPod) finished() bool {
	return p.phase == corev1.PodSucceeded || p.phase == corev1.PodFailed
}

// readCompact returns every object of the kind in the compact form compact makes of
// it: listed once per round (paginated), each page converted and dropped before the
// next, and shared by every check of the round that reads the kind; with the watch
// cache, its objects (slimmed and interned already, and kept by the cache) converted
// when they are new or changed (compactCached). compact is told which of the two it
// converts.
func readCompact[T, C any](ctx context.Context, c *conn, k kindReader[T], compact func(in *interner, obj *T, cached bool) *C) ([]*C, error) {
	key := "k8s/" + c.name + "/" + k.name
	if c.cache == nil {
		return checks.Memo(ctx, key, func(ctx context.Context) ([]*C, error) {
			return listAll(ctx, c, k, func(in *interner, obj *T) *C { return compact(in, obj, false) })
		})
	}
	return checks.Memo(ctx, key+"/compact", func(ctx context.Context) ([]*C, error) {
		objs, err := read(ctx, c, k)
		if err != nil {
			return nil, err
		}
		return compactCached(c.cache.compacted(k.name), objs, func(in *interner, o *T) *C { return compact(in, o, true) }), nil
	})
}

// compactConversions are the compact forms of a watched kind's cached objects, by
// object: the informers replace an object when it changes, so an object seen before
// has the same compact form.
type compactConversions struct {
	mu    sync.Mutex // rounds may overlap
	byObj map[any]any
}

// compactCached converts the cached objects that conv has not seen and reuses the
// rest; it forgets the objects the cache no longer holds.
func compactCached[T, C any](conv *compactConversions, objs []*T, compact func(in *interner, o *T) *C) []*C {
	conv.mu.Lock()
	defer conv.mu.Unlock()
	in := newInterner(0) // shares the parts of this round's conversions
	out := make([]*C, len(objs))
	seen := make(map[any]any, len(objs))
	for i, o := range objs {
		c, ok := conv.byObj[o].(*C)
		if !ok {
			c = compact(in, o)
		}
		out[i], seen[o] = c, c
	}
	conv.byObj = seen
	return out
}

// readPods returns every pod in compact form (readCompact).
func readPods(ctx context.Context, c *conn) ([]*compactPod, error) {
	return readCompact(ctx, c, podsKind, func(in *interner, p *corev1.Pod, cached bool) *compactPod {
		if !cached { // the cache's pods are slimmed, and shared
			slimPodSpec(&p.Spec)
		}
		return in.compactPod(p, in.checkedSpec(&p.Spec))
	})
}

// compactPod converts a pod; spec is the spec the compact pod keeps.
func (in *interner) compactPod(p *corev1.Pod, spec *checkedPodSpec) *compactPod {
	in.mu.Lock()
	defer in.mu.Unlock()
	owner := metav1.GetControllerOf(p)
	cp := &compactPod{
		compactMeta: in.meta(p), created: p.CreationTimestamp.Time,
		workload:   in.str(workloadOf(p.Namespace, p.Name, owner, p.Labels)),
		phase:      corev1.PodPhase(in.str(string(p.Status.Phase))),
		containers: in.containerStatuses(p.Status.InitContainerStatuses, p.Status.ContainerStatuses),
		spec:       spec,
	}
	if p.Status.Reason != "" || p.Status.Message != "" {
		cp.why = &statusReason{reason: in.str(p.Status.Reason), message: p.Status.Message}
	}
	if owner != nil {
		cp.controller = in.str(owner.Kind)
	}
	for _, c := range p.Status.Conditions {
		switch in.cond = c; c.Type {
		case corev1.PodReady:
			cp.ready, _ = sharedCopy(in, 'r', &in.cond)
		case corev1.PodScheduled:
			cp.scheduled, _ = sharedCopy(in, 'd', &in.cond)
		}
	}
	return cp
}

// containerStatuses converts the statuses of init containers and containers, sharing
// the result with equal ones (the healthy replicas of a workload have equal
// statuses): statuses already seen cost no allocation.
func (in *interner) containerStatuses(init, main []corev1.ContainerStatus) *podContainers {
	if len(init)+len(main) == 0 {
		return nil
	}
	in.key = append(in.key[:0], 'C')
	for _, statuses := range [][]corev1.ContainerStatus{init, main} {
		for _, s := range statuses {
			cs := statusOf(s)
			for _, part := range []string{cs.name, cs.waiting, cs.terminated, cs.lastTerminated} {
				in.key = append(append(in.key, part...), 0)
			}
			in.key = strconv.AppendInt(in.key, int64(cs.restarts), 10)
			in.key = append(in.key, 0)
		}
		in.key = append(in.key, 1) // init's end
	}
	if v, ok := in.parts[string(in.key)].(*podContainers); ok {
		return v
	}
	pc := &podContainers{init: in.convertStatuses(init), main: in.convertStatuses(main)}
	in.parts[string(in.key)] = pc
	in.values++
	return pc
}

func (in *interner) convertStatuses(statuses []corev1.ContainerStatus) []containerStatus {
	if len(statuses) == 0 {
		return nil
	}
	out := make([]containerStatus, len(statuses))
	for i, s := range statuses {
		cs := statusOf(s)
		cs.name, cs.waiting, cs.terminated, cs.lastTerminated = in.str(cs.name), in.str(cs.waiting), in.str(cs.terminated), in.str(cs.lastTerminated)
		out[i] = cs
	}
	return out
}

func statusOf(s corev1.ContainerStatus) containerStatus {
	cs := containerStatus{name: s.Name, restarts: s.RestartCount}
	if s.State.Waiting != nil {
		cs.waiting = s.State.Waiting.Reason
	}
	if s.State.Terminated != nil {
		cs.terminated = s.State.Terminated.Reason
	}
	if s.LastTerminationState.Terminated != nil {
		cs.lastTerminated = s.LastTerminationState.Terminated.Reason
	}
	return cs
}
