package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/clankerd/clankerd/checks"
)

// pageSize is the LIST page size: big enough to keep round trips few, small enough
// that one page is slimmed before the next arrives.
const pageSize = 500

// pagesInFlight is how many LIST pages a connection decodes and converts at once,
// whatever their kinds. Once the checks keep compact forms, the decoded pages are a
// good part of a round's peak: at 10,000 pods, one or two at a time measured 1.5 MiB
// under no bound (4 checks at once), with the wall within the noise.
const pagesInFlight = 2

// kindReader reads every object of one kind in a cluster.
type kindReader[T any] struct {
	name string // "pods", "deployments", ...
	// list reads one page.
	list func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) (items []T, cont string, err error)
	// informer returns the kind's shared informer (the daemon's watch cache).
	informer func(f informers.SharedInformerFactory) cache.SharedIndexInformer
	// warningsOnly makes the watch cache use its Warning-events factory.
	warningsOnly bool
}

// read returns every object of the kind: from the watch cache when the provider
// watches, otherwise listed once per round (paginated) and shared by every check in
// the round that needs it.
func read[T any](ctx context.Context, c *conn, k kindReader[T]) ([]*T, error) {
	if c.cache != nil {
		objs, err := c.cache.list(ctx, k.name, k.informer, k.warningsOnly)
		if err != nil {
			return nil, c.apiError("watching", k.name, err)
		}
		out := make([]*T, 0, len(objs))
		for _, o := range objs {
			if t, ok := o.(*T); ok {
				out = append(out, t)
			}
		}
		return out, nil
	}
	return checks.Memo(ctx, "k8s/"+c.name+"/"+k.name, func(ctx context.Context) ([]*T, error) {
		return listAll(ctx, c, k, func(in *interner, obj *T) *T {
			slim(any(obj))
			in.object(any(obj))
			return obj
		})
	})
}

// listAll lists every object of the kind, page by page (pageSize), and returns what
// keep makes of each decoded object, given the list's interner. What keep does not
// hold on to of a page goes with the page. The connection bounds the pages in flight,
// whatever their kinds (pagesInFlight).
func listAll[T, K any](ctx context.Context, c *conn, k kindReader[T], keep func(in *interner, obj *T) *K) ([]*K, error) {
	var out []*K
	in := newInterner(0) // one table per list, dropped with it
	opts := metav1.ListOptions{Limit: pageSize}
	if k.warningsOnly {
		opts.FieldSelector = "type=Warning"
	}
	page := func() (cont string, err error) {
		select {
		case c.pages <- struct{}{}:
		case <-ctx.Done():
			return "", c.apiError("listing", k.name, ctx.Err())
		}
		defer func() { <-c.pages }()
		items, cont, err := k.list(ctx, c.client, opts)
		if err != nil {
			return "", c.apiError("listing", k.name, err)
		}
		for i := range items {
			out = append(out, keep(in, &items[i]))
		}
		return cont, nil
	}
	for {
		cont, err := page()
		if err != nil {
			return nil, err
		}
		if cont == "" {
			return out, nil
		}
		opts.Continue = cont
	}
}

// slim drops what no check reads (managed fields, annotations, env values, probes, ...), so
// a big cluster fits in little memory. It is also the watch cache's transform.
func slim(obj any) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	m.SetManagedFields(nil)
	annotations := m.GetAnnotations()
	m.SetAnnotations(nil)
	switch o := obj.(type) {
	case *corev1.Service:
		o.Annotations = internalLoadBalancerOnly(annotations) // k8s.changes.exposure
	case *corev1.Pod:
		slimPodSpec(&o.Spec)
		slimPodStatus(&o.Status)
	case *appsv1.Deployment:
		slimPodSpec(&o.Spec.Template.Spec)
	case *appsv1.StatefulSet:
		slimPodSpec(&o.Spec.Template.Spec)
	case *appsv1.DaemonSet:
		slimPodSpec(&o.Spec.Template.Spec)
	case *batchv1.Job:
		slimPodSpec(&o.Spec.Template.Spec)
	case *batchv1.CronJob:
		slimPodSpec(&o.Spec.JobTemplate.Spec.Template.Spec)
	case *corev1.Node:
		o.Status.Images = nil
		o.Status.VolumesAttached, o.Status.VolumesInUse = nil, nil
	}
}

func slimPodSpec(s *corev1.PodSpec) {
	for _, cs := range [][]corev1.Container{s.Containers, s.InitContainers} {
		for i := range cs {
			c := &cs[i]
			c.Env = refsOnlyEnv(c.Env)       // EnvFrom is kept: only names (k8s.refs.missing)
			c.Ports = hostPortsOnly(c.Ports) // k8s.changes.exposure
			c.Command, c.Args, c.VolumeMounts = nil, nil, nil
			c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil
		}
	}
	s.EphemeralContainers = nil
	vols := s.Volumes[:0]
	for _, v := range s.Volumes {
		if v, ok := refsOnlyVolume(v); ok {
			vols = append(vols, v)
		}
	}
	s.Volumes = vols
	s.Affinity, s.Tolerations, s.TopologySpreadConstraints = nil, nil, nil
}

// slimPodStatus drops the addresses, the runtime's ids and resources and the
// conditions other than Ready and PodScheduled of a pod's status, which no check
// reads; phase, reasons, container states and restarts stay.
func slimPodStatus(s *corev1.PodStatus) {
	read := func(c corev1.PodCondition) bool { return c.Type == corev1.PodReady || c.Type == corev1.PodScheduled }
	if !all(s.Conditions, read) {
		var conds []corev1.PodCondition // a new array: the decoded one goes
		for _, c := range s.Conditions {
			if read(c) {
				conds = append(conds, c)
			}
		}
		s.Conditions = conds
	}
	s.HostIP, s.HostIPs, s.PodIP, s.PodIPs = "", nil, "", nil
	s.ResourceClaimStatuses, s.ExtendedResourceClaimStatus = nil, nil
	s.AllocatedResources, s.Resources = nil, nil
	for _, cs := range [][]corev1.ContainerStatus{s.ContainerStatuses, s.InitContainerStatuses, s.EphemeralContainerStatuses} {
		for i := range cs {
			c := &cs[i]
			c.ImageID, c.ContainerID = "", ""
			c.AllocatedResources, c.Resources, c.VolumeMounts, c.User, c.AllocatedResourcesStatus = nil, nil, nil, nil, nil
		}
	}
}

// The kinds checks read.
var (
	podsKind = kindReader[corev1.Pod]{
		name: "pods",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]corev1.Pod, string, error) {
			l, err := c.CoreV1().Pods("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Core().V1().Pods().Informer()
		},
	}
	nodesKind = kindReader[corev1.Node]{
		name: "nodes",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]corev1.Node, string, error) {
			l, err := c.CoreV1().Nodes().List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Core().V1().Nodes().Informer()
		},
	}
	servicesKind = kindReader[corev1.Service]{
		name: "services",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]corev1.Service, string, error) {
			l, err := c.CoreV1().Services("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Core().V1().Services().Informer()
		},
	}
	pvcsKind = kindReader[corev1.PersistentVolumeClaim]{
		name: "persistentvolumeclaims",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]corev1.PersistentVolumeClaim, string, error) {
			l, err := c.CoreV1().PersistentVolumeClaims("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Core().V1().PersistentVolumeClaims().Informer()
		},
	}
	warningEventsKind = kindReader[corev1.Event]{
		name: "events",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]corev1.Event, string, error) {
			l, err := c.CoreV1().Events("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Core().V1().Events().Informer()
		},
		warningsOnly: true,
	}
	deploymentsKind = kindReader[appsv1.Deployment]{
		name: "deployments",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]appsv1.Deployment, string, error) {
			l, err := c.AppsV1().Deployments("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Apps().V1().Deployments().Informer()
		},
	}
	statefulSetsKind = kindReader[appsv1.StatefulSet]{
		name: "statefulsets",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]appsv1.StatefulSet, string, error) {
			l, err := c.AppsV1().StatefulSets("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Apps().V1().StatefulSets().Informer()
		},
	}
	daemonSetsKind = kindReader[appsv1.DaemonSet]{
		name: "daemonsets",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]appsv1.DaemonSet, string, error) {
			l, err := c.AppsV1().DaemonSets("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Apps().V1().DaemonSets().Informer()
		},
	}
	jobsKind = kindReader[batchv1.Job]{
		name: "jobs",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]batchv1.Job, string, error) {
			l, err := c.BatchV1().Jobs("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Batch().V1().Jobs().Informer()
		},
	}
	cronJobsKind = kindReader[batchv1.CronJob]{
		name: "cronjobs",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]batchv1.CronJob, string, error) {
			l, err := c.BatchV1().CronJobs("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Batch().V1().CronJobs().Informer()
		},
	}
	endpointSlicesKind = kindReader[discoveryv1.EndpointSlice]{
		name: "endpointslices",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]discoveryv1.EndpointSlice, string, error) {
			l, err := c.DiscoveryV1().EndpointSlices("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Discovery().V1().EndpointSlices().Informer()
		},
	}
	ingressesKind = kindReader[networkingv1.Ingress]{
		name: "ingresses",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]networkingv1.Ingress, string, error) {
			l, err := c.NetworkingV1().Ingresses("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Networking().V1().Ingresses().Informer()
		},
	}
	clusterRolesKind = kindReader[rbacv1.ClusterRole]{
		name: "clusterroles",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]rbacv1.ClusterRole, string, error) {
			l, err := c.RbacV1().ClusterRoles().List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Rbac().V1().ClusterRoles().Informer()
		},
	}
	clusterRoleBindingsKind = kindReader[rbacv1.ClusterRoleBinding]{
		name: "clusterrolebindings",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]rbacv1.ClusterRoleBinding, string, error) {
			l, err := c.RbacV1().ClusterRoleBindings().List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Rbac().V1().ClusterRoleBindings().Informer()
		},
	}
	roleBindingsKind = kindReader[rbacv1.RoleBinding]{
		name: "rolebindings",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]rbacv1.RoleBinding, string, error) {
			l, err := c.RbacV1().RoleBindings("").List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Rbac().V1().RoleBindings().Informer()
		},
	}
)

// watchCache keeps shared informers per kind for one cluster, started the first time
// a check reads the kind.
type watchCache struct {
	factory, warnings informers.SharedInformerFactory
	stopCh            chan struct{}
	log               *slog.Logger
	intern            *interner // shared by the informers, bounded (watchInternLimit)

	mu       sync.Mutex
	started  map[string]*watched
	compacts map[string]*compactConversions // by kind
	stopped  bool
}

type watched struct {
	inf cache.SharedIndexInformer

	mu        sync.Mutex
	lastErr   error
	lastErrAt time.Time
}

// staleAfterError is how long after a watch error the cache is not trusted: errors
// come again on every retry while the apiserver is away, so a quiet period means the
// watch is back.
const staleAfterError = time.Minute

func newWatchCache(client kubernetes.Interface, log *slog.Logger) *watchCache {
	return &watchCache{
		factory: informers.NewSharedInformerFactory(client, 0),
		warnings: informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = "type=Warning"
		})),
		stopCh:  make(chan struct{}),
		log:     log,
		intern:  newInterner(watchInternLimit),
		started: map[string]*watched{},
	}
}

// all reports whether keep holds for every element of s.
func all[T any](s []T, keep func(T) bool) bool {
	for _, v := range s {
		if !keep(v) {
			return false
		}
	}
	return true
}

// transform slims and interns each object before the informer stores it.
func (w *watchCache) transform(obj any) (any, error) {
	slim(obj)
	w.intern.object(obj)
	return obj, nil
}

// compacted returns the compact forms kept for a kind's cached objects.
func (w *watchCache) compacted(kind string) *compactConversions {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.compacts == nil {
		w.compacts = map[string]*compactConversions{}
	}
	conv := w.compacts[kind]
	if conv == nil {
		conv = &compactConversions{}
		w.compacts[kind] = conv
	}
	return conv
}

func (w *watchCache) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.stopped = true
		close(w.stopCh)
		w.factory.Shutdown()
		w.warnings.Shutdown()
	}
}

// list returns the cached objects of a kind, starting its informer on first use. It
// fails fast when the watch reports errors (forbidden, unreachable) instead of serving
// a cache that may be stale.
func (w *watchCache) list(ctx context.Context, kind string, get func(informers.SharedInformerFactory) cache.SharedIndexInformer, warningsOnly bool) ([]any, error) {
	w.mu.Lock()
	wt, ok := w.started[kind]
	if !ok {
		if w.stopped {
			w.mu.Unlock()
			return nil, fmt.Errorf("the watch cache is stopped")
		}
		f := w.factory
		if warningsOnly {
			f = w.warnings
		}
		wt = &watched{inf: get(f)}
		_ = wt.inf.SetTransform(w.transform)
		_ = wt.inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
			wt.mu.Lock()
			wt.lastErr, wt.lastErrAt = err, time.Now()
			wt.mu.Unlock()
			w.log.Debug("watch error", "kind", kind, "err", err)
		})
		w.started[kind] = wt
		f.Start(w.stopCh)
	}
	w.mu.Unlock()

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !wt.inf.HasSynced() {
		if err := wt.recentError(); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the first list: %w", ctx.Err())
		case <-tick.C:
		}
	}
	if err := wt.recentError(); err != nil {
		return nil, fmt.Errorf("the watch is failing, so the cache may be stale: %w", err)
	}
	return wt.inf.GetStore().List(), nil
}

func (wt *watched) recentError() error {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	if wt.lastErr != nil && time.Since(wt.lastErrAt) < staleAfterError {
		return wt.lastErr
	}
	return nil
}
