package kube

import (
	"iter"

	corev1 "k8s.io/api/core/v1"
)

// checkedPodSpec is what the checks read of a pod spec, a pod's or a workload
// template's: a corev1.PodSpec costs 568 bytes and each of its containers 408 before
// any field is set, and a cluster has one distinct spec per workload. The fields keep
// corev1's names, so code reads like code over the API type.
type checkedPodSpec struct {
	Volumes                                      []corev1.Volume
	InitContainers, Containers                   []checkedContainer
	ImagePullSecrets                             []corev1.LocalObjectReference
	SecurityContext                              *corev1.PodSecurityContext
	ServiceAccountName, DeprecatedServiceAccount string
	HostNetwork, HostPID, HostIPC                bool
}

// checkedContainer is what the checks read of a container.
type checkedContainer struct {
	Name, Image     string
	SecurityContext *corev1.SecurityContext
	Resources       corev1.ResourceRequirements
	Env             []corev1.EnvVar // references only (refsOnlyEnv)
	EnvFrom         []corev1.EnvFromSource
	Ports           []corev1.ContainerPort // host ports only (hostPortsOnly)
}

// checkedSpec returns what the checks read of a slimmed spec s, shared with the equal
// specs of other pods and templates (the replicas of a workload differ in node name
// and hostname, which no check reads). s is only read: each spec costs one encoding,
// and only the first of its value is converted, with its strings and resource lists
// shared with the other specs'.
func (in *interner) checkedSpec(s *corev1.PodSpec) *checkedPodSpec {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.spec = corev1.PodSpec{
		Volumes: s.Volumes, InitContainers: s.InitContainers, Containers: s.Containers,
		ImagePullSecrets: s.ImagePullSecrets, SecurityContext: s.SecurityContext,
		ServiceAccountName: s.ServiceAccountName, DeprecatedServiceAccount: s.DeprecatedServiceAccount,
		HostNetwork: s.HostNetwork, HostPID: s.HostPID, HostIPC: s.HostIPC,
	}
	in.key = append(in.key[:0], 'S')
	ok := in.appendKey(&in.spec)
	in.spec = corev1.PodSpec{} // holds on to nothing of the page
	if !ok {
		return in.convertSpec(s)
	}
	if v, ok := in.parts[string(in.key)].(*checkedPodSpec); ok {
		return v
	}
	key := string(in.key) // convertSpec uses in.key
	spec := in.convertSpec(s)
	in.parts[key] = spec
	in.values++
	return spec
}

func (in *interner) convertSpec(s *corev1.PodSpec) *checkedPodSpec {
	return &checkedPodSpec{
		Volumes:        s.Volumes,
		InitContainers: in.checkedContainers(s.InitContainers), Containers: in.checkedContainers(s.Containers),
		ImagePullSecrets: s.ImagePullSecrets, SecurityContext: sharedPtr(in, 's', s.SecurityContext),
		ServiceAccountName: in.str(s.ServiceAccountName), DeprecatedServiceAccount: in.str(s.DeprecatedServiceAccount),
		HostNetwork: s.HostNetwork, HostPID: s.HostPID, HostIPC: s.HostIPC,
	}
}

func (in *interner) checkedContainers(cs []corev1.Container) []checkedContainer {
	if len(cs) == 0 {
		return nil
	}
	out := make([]checkedContainer, len(cs))
	for i, c := range cs {
		out[i] = checkedContainer{
			Name: in.str(c.Name), Image: in.str(c.Image), SecurityContext: c.SecurityContext,
			Resources: corev1.ResourceRequirements{Limits: in.resourceList(c.Resources.Limits), Requests: in.resourceList(c.Resources.Requests)},
			Env:       c.Env, EnvFrom: c.EnvFrom, Ports: c.Ports,
		}
	}
	return out
}

// containersOf yields a spec's init containers, then its containers, without copying
// them (the checks look at every pod's).
func containersOf(s *checkedPodSpec) iter.Seq[*checkedContainer] {
	return func(yield func(*checkedContainer) bool) {
		for _, cs := range [][]checkedContainer{s.InitContainers, s.Containers} {
			for i := range cs {
				if !yield(&cs[i]) {
					return
				}
			}
		}
	}
}
