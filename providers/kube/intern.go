package kube

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// interner makes equal strings, label sets and resource lists of the objects of one
// read share one copy. A cluster's 10,000 pods repeat a few namespaces, owners,
// images, label sets and resource lists, and each decoded object holds its own
// copy of every one of them. Objects returned by read are shared and read-only, so
// sharing their parts is safe too.
type interner struct {
	mu     sync.Mutex // the watch cache's informers transform concurrently
	strs   map[string]string
	maps   map[string]map[string]string
	lists  map[string]corev1.ResourceList
	parts  map[string]any // equal containers, volumes, security contexts by encoding
	key    []byte
	limit  int // entries after which the tables start over (0: no limit)
	values int
	// Scratch values for sharedCopy: a value already in the table costs no allocation.
	spec corev1.PodSpec
	cond corev1.PodCondition
}

// watchInternLimit bounds what the daemon's interner remembers: the watch cache
// lives as long as the daemon and sees names come and go, so its tables start over
// when they reach this many entries. Values already shared stay shared.
const watchInternLimit = 1 << 16

func newInterner(limit int) *interner {
	in := &interner{limit: limit}
	in.reset()
	return in
}

func (in *interner) reset() {
	in.strs = map[string]string{}
	in.maps = map[string]map[string]string{}
	in.lists = map[string]corev1.ResourceList{}
	in.parts = map[string]any{}
	in.values = 0
}

// object interns the parts of obj that repeat across objects, any kind first
// (namespace, labels, owners), then the kinds the checks read in bulk.
func (in *interner) object(obj any) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.limit > 0 && in.values >= in.limit {
		in.reset()
	}
	m.SetNamespace(in.str(m.GetNamespace()))
	m.SetGenerateName(in.str(m.GetGenerateName()))
	m.SetLabels(in.strMap(m.GetLabels()))
	// The pods of one ReplicaSet name the same owner.
	if owners, shared := sharedSlice(in, 'o', m.GetOwnerReferences()); shared {
		m.SetOwnerReferences(owners)
	} else {
		for i := range owners { // the object's own slice: interned in place
			o := &owners[i]
			o.APIVersion, o.Kind, o.Name, o.UID = in.str(o.APIVersion), in.str(o.Kind), in.str(o.Name), in.uid(o.UID)
		}
	}
	fin := m.GetFinalizers()
	for i := range fin {
		fin[i] = in.str(fin[i])
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		in.podSpec(&o.Spec)
		in.podStatus(&o.Status)
	case *appsv1.Deployment:
		in.selector(o.Spec.Selector)
		in.template(&o.Spec.Template)
	case *appsv1.StatefulSet:
		in.selector(o.Spec.Selector)
		in.template(&o.Spec.Template)
	case *appsv1.DaemonSet:
		in.selector(o.Spec.Selector)
		in.template(&o.Spec.Template)
	case *batchv1.Job:
		in.selector(o.Spec.Selector)
		in.template(&o.Spec.Template)
	case *batchv1.CronJob:
		in.template(&o.Spec.JobTemplate.Spec.Template)
	case *corev1.Service:
		o.Spec.Selector = in.strMap(o.Spec.Selector)
		o.Spec.Type = corev1.ServiceType(in.str(string(o.Spec.Type)))
	case *discoveryv1.EndpointSlice:
		for i := range o.Endpoints {
			ep := &o.Endpoints[i]
			if ep.NodeName != nil {
				*ep.NodeName = in.str(*ep.NodeName)
			}
			if ep.TargetRef != nil {
				ep.TargetRef.Kind, ep.TargetRef.Namespace = in.str(ep.TargetRef.Kind), in.str(ep.TargetRef.Namespace)
			}
		}
	case *corev1.Event:
		io := &o.InvolvedObject
		io.Kind, io.Namespace, io.APIVersion = in.str(io.Kind), in.str(io.Namespace), in.str(io.APIVersion)
		o.Reason, o.Type = in.str(o.Reason), in.str(o.Type)
		o.Source.Component, o.Source.Host = in.str(o.Source.Component), in.str(o.Source.Host)
		o.ReportingController, o.ReportingInstance = in.str(o.ReportingController), in.str(o.ReportingInstance)
	}
}

// selector shares a workload's matchLabels with the equal labels of its template.
func (in *interner) selector(s *metav1.LabelSelector) {
	if s != nil {
		s.MatchLabels = in.strMap(s.MatchLabels)
	}
}

func (in *interner) template(t *corev1.PodTemplateSpec) {
	t.Labels = in.strMap(t.Labels)
	in.podSpec(&t.Spec)
}

func (in *interner) podSpec(s *corev1.PodSpec) {
	// The replicas of a workload have equal containers, volumes and security
	// context: one copy serves them all.
	var shared bool
	if s.Containers, shared = sharedSlice(in, 'c', s.Containers); !shared {
		in.containers(s.Containers)
	}
	if s.InitContainers, shared = sharedSlice(in, 'i', s.InitContainers); !shared {
		in.containers(s.InitContainers)
	}
	s.Volumes, _ = sharedSlice(in, 'v', s.Volumes)
	s.ImagePullSecrets, _ = sharedSlice(in, 'p', s.ImagePullSecrets)
	s.SecurityContext = sharedPtr(in, 's', s.SecurityContext)
	s.RestartPolicy = corev1.RestartPolicy(in.str(string(s.RestartPolicy)))
	s.DNSPolicy = corev1.DNSPolicy(in.str(string(s.DNSPolicy)))
	s.ServiceAccountName, s.DeprecatedServiceAccount = in.str(s.ServiceAccountName), in.str(s.DeprecatedServiceAccount)
	s.NodeName, s.SchedulerName, s.PriorityClassName = in.str(s.NodeName), in.str(s.SchedulerName), in.str(s.PriorityClassName)
	s.Subdomain = in.str(s.Subdomain)
	s.NodeSelector = in.strMap(s.NodeSelector)
	s.Overhead = in.resourceList(s.Overhead)
	if s.PreemptionPolicy != nil {
		*s.PreemptionPolicy = corev1.PreemptionPolicy(in.str(string(*s.PreemptionPolicy)))
	}
}

func (in *interner) containers(cs []corev1.Container) {
	for i := range cs {
		c := &cs[i]
		c.Name, c.Image, c.WorkingDir = in.str(c.Name), in.str(c.Image), in.str(c.WorkingDir)
		c.ImagePullPolicy = corev1.PullPolicy(in.str(string(c.ImagePullPolicy)))
		c.TerminationMessagePath = in.str(c.TerminationMessagePath)
		c.TerminationMessagePolicy = corev1.TerminationMessagePolicy(in.str(string(c.TerminationMessagePolicy)))
		c.Resources.Requests = in.resourceList(c.Resources.Requests)
		c.Resources.Limits = in.resourceList(c.Resources.Limits)
	}
}

func (in *interner) podStatus(s *corev1.PodStatus) {
	s.Phase = corev1.PodPhase(in.str(string(s.Phase)))
	s.Reason, s.QOSClass = in.str(s.Reason), corev1.PodQOSClass(in.str(string(s.QOSClass)))
	for i := range s.Conditions {
		c := &s.Conditions[i]
		c.Type = corev1.PodConditionType(in.str(string(c.Type)))
		c.Status = corev1.ConditionStatus(in.str(string(c.Status)))
		c.Reason = in.str(c.Reason)
	}
	for _, cs := range [][]corev1.ContainerStatus{s.ContainerStatuses, s.InitContainerStatuses} {
		for i := range cs {
			c := &cs[i]
			c.Name, c.Image = in.str(c.Name), in.str(c.Image)
			for _, st := range []*corev1.ContainerState{&c.State, &c.LastTerminationState} {
				if st.Waiting != nil {
					st.Waiting.Reason = in.str(st.Waiting.Reason)
				}
				if st.Terminated != nil {
					st.Terminated.Reason = in.str(st.Terminated.Reason)
				}
			}
		}
	}
}

// protoPart is what every API type has: its protobuf encoding, which serves as the key
// of equal values.
type protoPart interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

// appendKey appends p's encoding, length first, to in.key.
func (in *interner) appendKey(p protoPart) bool {
	n := p.Size()
	in.key = binary.AppendUvarint(in.key, uint64(n))
	in.key = slices.Grow(in.key, n)[:len(in.key)+n]
	_, err := p.MarshalToSizedBuffer(in.key[len(in.key)-n:])
	return err == nil
}

// sharedSlice returns the table's slice equal to s (by encoding) and true, or s and
// false when s is the first of its value.
func sharedSlice[T any, PT interface {
	*T
	protoPart
}](in *interner, tag byte, s []T) ([]T, bool) {
	if len(s) == 0 {
		return s, false
	}
	in.key = append(in.key[:0], tag)
	for i := range s {
		if !in.appendKey(PT(&s[i])) {
			return s, false
		}
	}
	if v, ok := in.parts[string(in.key)].([]T); ok {
		return v, true
	}
	in.parts[string(in.key)] = s
	in.values++
	return s, false
}

// sharedPtr returns the table's value equal to p (by encoding), or p when it is the
// first of its value.
func sharedPtr[T any, PT interface {
	*T
	protoPart
}](in *interner, tag byte, p *T) *T {
	if p == nil {
		return nil
	}
	in.key = append(in.key[:0], tag)
	if !in.appendKey(PT(p)) {
		return p
	}
	if v, ok := in.parts[string(in.key)].(*T); ok {
		return v
	}
	in.parts[string(in.key)] = p
	in.values++
	return p
}

// sharedCopy returns the table's value equal to *v (by encoding) and false, or a copy
// of *v, stored as the first of its value, and true. v itself is never kept, so it
// may be scratch space.
func sharedCopy[T any, PT interface {
	*T
	protoPart
}](in *interner, tag byte, v *T) (*T, bool) {
	in.key = append(in.key[:0], tag)
	if !in.appendKey(PT(v)) {
		c := *v
		return &c, true
	}
	if s, ok := in.parts[string(in.key)].(*T); ok {
		return s, false
	}
	c := new(T)
	*c = *v
	in.parts[string(in.key)] = c
	in.values++
	return c, true
}

// str returns the table's copy of s, adding s when it is new.
func (in *interner) str(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	in.strs[s] = s
	in.values++
	return s
}

// uid interns an owner's UID: the pods of one ReplicaSet name the same owner.
func (in *interner) uid(u types.UID) types.UID { return types.UID(in.str(string(u))) }

// strMap returns a shared map equal to m (label sets, selectors).
func (in *interner) strMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	in.key = in.key[:0]
	for _, k := range keys {
		in.key = append(append(append(append(in.key, k...), 0), m[k]...), 0)
	}
	if v, ok := in.maps[string(in.key)]; ok {
		return v
	}
	n := make(map[string]string, len(m))
	for k, v := range m {
		n[in.str(k)] = in.str(v)
	}
	in.maps[string(in.key)] = n
	in.values++
	return n
}

// resourceList returns a shared list equal to l: the containers of one workload
// request the same.
func (in *interner) resourceList(l corev1.ResourceList) corev1.ResourceList {
	if len(l) == 0 {
		return l
	}
	var b strings.Builder
	names := make([]string, 0, len(l))
	for name := range l {
		names = append(names, string(name))
	}
	slices.Sort(names)
	for _, name := range names {
		q := l[corev1.ResourceName(name)]
		b.WriteString(name)
		b.WriteByte(0)
		b.WriteString(q.String())
		b.WriteByte(0)
	}
	if v, ok := in.lists[b.String()]; ok {
		return v
	}
	in.lists[b.String()] = l
	in.values++
	return l
}
