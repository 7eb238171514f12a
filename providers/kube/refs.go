package kube

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/clankerd/clankerd/checks"
)

var serviceAccountsKind = kindReader[corev1.ServiceAccount]{
	name: "serviceaccounts",
	list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]corev1.ServiceAccount, string, error) {
		l, err := c.CoreV1().ServiceAccounts("").List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	},
	informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Core().V1().ServiceAccounts().Informer()
	},
}

// Objects the kube-controller-manager creates in every namespace: a reference to them
// is never a finding, even where (as in a test apiserver) no controller runs.
const (
	defaultServiceAccount = "default"
	rootCAConfigMap       = "kube-root-ca.crt"
)

// refsMissing reports Pods and workload templates that reference a ConfigMap, Secret,
// PersistentVolumeClaim or ServiceAccount that does not exist in their namespace, so
// their pods will not start. Optional references are left out. A pod run by a
// Deployment, StatefulSet, DaemonSet or Job is covered by that workload's template; a
// Job run by a CronJob by the CronJob's. Finished Jobs and pods are left out.
func (p *Provider) refsMissing(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Finding, error) {
	withSecrets := params.Bool("secrets")
	have, err := existingRefs(ctx, c, s.namespace, withSecrets)
	if err != nil {
		return nil, err
	}
	specs, err := podSpecsInScope(ctx, c, s)
	if err != nil {
		return nil, err
	}
	missing := map[string]*podRefs{} // by resource
	for _, w := range specs {
		want := refsOf(w.spec, withSecrets)
		gone := want.missing(w.namespace, have)
		if gone.empty() {
			continue
		}
		if prev := missing[w.resource]; prev != nil {
			prev.add(gone)
		} else {
			missing[w.resource] = &gone
		}
	}
	resources := make([]string, 0, len(missing))
	for r := range missing {
		resources = append(resources, r)
	}
	sort.Strings(resources)
	out := make([]checks.Finding, 0, len(resources))
	for _, r := range resources {
		m := missing[r]
		out = append(out, checks.Finding{
			Resource: r, Problem: "refs_missing", Severity: checks.High,
			Summary:  fmt.Sprintf("%s references what does not exist in its namespace: %s; its pods cannot start", r, m.text()),
			Evidence: m.evidence(),
			Fix:      "create the missing objects, correct the names in the spec, or mark a ConfigMap or Secret reference optional: true",
		})
	}
	return out, nil
}

// podSpec is a pod spec to check and the resource that answers for it.
type podSpec struct {
	resource, namespace string
	spec                *checkedPodSpec
}

// podSpecsInScope gathers the pod specs to look at: workload templates, then pods no
// template covers.
func podSpecsInScope(ctx context.Context, c *conn, s scope) ([]podSpec, error) {
	var out []podSpec
	in := newInterner(0) // for the templates of the kinds read whole
	deps, err := readDeployments(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, d := range inScope(s, deps) {
		out = append(out, podSpec{ref("deployment", d), d.namespace, d.spec})
	}
	sets, err := read(ctx, c, statefulSetsKind)
	if err != nil {
		return nil, err
	}
	for _, st := range inScope(s, sets) {
		out = append(out, podSpec{ref("statefulset", st), st.Namespace, in.convertSpec(&st.Spec.Template.Spec)})
	}
	daemons, err := read(ctx, c, daemonSetsKind)
	if err != nil {
		return nil, err
	}
	for _, ds := range inScope(s, daemons) {
		out = append(out, podSpec{ref("daemonset", ds), ds.Namespace, in.convertSpec(&ds.Spec.Template.Spec)})
	}
	crons, err := read(ctx, c, cronJobsKind)
	if err != nil {
		return nil, err
	}
	for _, cj := range inScope(s, crons) {
		out = append(out, podSpec{ref("cronjob", cj), cj.Namespace, in.convertSpec(&cj.Spec.JobTemplate.Spec.Template.Spec)})
	}
	jobs, err := read(ctx, c, jobsKind)
	if err != nil {
		return nil, err
	}
	for _, j := range inScope(s, jobs) {
		if owner := metav1.GetControllerOf(j); (owner != nil && owner.Kind == "CronJob") || j.Status.CompletionTime != nil || jobFailed(j) != nil {
			continue
		}
		out = append(out, podSpec{ref("job", j), j.Namespace, in.convertSpec(&j.Spec.Template.Spec)})
	}
	pods, err := readPods(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, pd := range inScope(s, pods) {
		if pd.finished() || templated(pd) {
			continue
		}
		out = append(out, podSpec{pd.workload, pd.namespace, pd.spec})
	}
	return out, nil
}

// templated reports whether a pod's controller is a workload whose template is checked.
func templated(pd *compactPod) bool {
	switch pd.controller {
	case "StatefulSet", "DaemonSet", "Job":
		return true
	case "ReplicaSet":
		return strings.HasPrefix(pd.workload, "deployment/")
	}
	return false
}

// podRefs are the names a pod spec needs, or that are missing.
type podRefs struct {
	configMaps, secrets, claims []string
	serviceAccount              string
}

// refsOf collects the required (not optional) references of a pod spec.
func refsOf(spec *checkedPodSpec, withSecrets bool) podRefs {
	var r podRefs
	configMap := func(name string, optional *bool) {
		if name != "" && name != rootCAConfigMap && (optional == nil || !*optional) {
			r.configMaps = append(r.configMaps, name)
		}
	}
	secret := func(name string, optional *bool) {
		if withSecrets && name != "" && (optional == nil || !*optional) {
			r.secrets = append(r.secrets, name)
		}
	}
	for _, v := range spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			configMap(v.ConfigMap.Name, v.ConfigMap.Optional)
		case v.Secret != nil:
			secret(v.Secret.SecretName, v.Secret.Optional)
		case v.PersistentVolumeClaim != nil:
			r.claims = append(r.claims, v.PersistentVolumeClaim.ClaimName)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil {
					configMap(src.ConfigMap.Name, src.ConfigMap.Optional)
				}
				if src.Secret != nil {
					secret(src.Secret.Name, src.Secret.Optional)
				}
			}
		}
	}
	for _, cs := range [][]checkedContainer{spec.InitContainers, spec.Containers} {
		for _, ctr := range cs {
			for _, e := range ctr.EnvFrom {
				if e.ConfigMapRef != nil {
					configMap(e.ConfigMapRef.Name, e.ConfigMapRef.Optional)
				}
				if e.SecretRef != nil {
					secret(e.SecretRef.Name, e.SecretRef.Optional)
				}
			}
			for _, e := range ctr.Env {
				if e.ValueFrom == nil {
					continue
				}
				if k := e.ValueFrom.ConfigMapKeyRef; k != nil {
					configMap(k.Name, k.Optional)
				}
				if k := e.ValueFrom.SecretKeyRef; k != nil {
					secret(k.Name, k.Optional)
				}
			}
		}
	}
	for _, ps := range spec.ImagePullSecrets {
		secret(ps.Name, nil)
	}
	r.serviceAccount = spec.ServiceAccountName
	if r.serviceAccount == "" {
		r.serviceAccount = spec.DeprecatedServiceAccount
	}
	if r.serviceAccount == defaultServiceAccount {
		r.serviceAccount = ""
	}
	return r
}

// missing keeps the references that do not exist in the namespace.
func (r podRefs) missing(ns string, have existing) podRefs {
	absent := func(names []string, set map[string]bool) []string {
		var out []string
		for _, n := range names {
			if !set[ns+"/"+n] && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out
	}
	m := podRefs{
		configMaps: absent(r.configMaps, have.configMaps),
		secrets:    absent(r.secrets, have.secrets),
		claims:     absent(r.claims, have.claims),
	}
	if r.serviceAccount != "" && !have.serviceAccounts[ns+"/"+r.serviceAccount] {
		m.serviceAccount = r.serviceAccount
	}
	return m
}

func (r podRefs) empty() bool {
	return len(r.configMaps)+len(r.secrets)+len(r.claims) == 0 && r.serviceAccount == ""
}

// add merges o into r, each name once.
func (r *podRefs) add(o podRefs) {
	merge := func(into *[]string, names []string) {
		for _, n := range names {
			if !slices.Contains(*into, n) {
				*into = append(*into, n)
			}
		}
	}
	merge(&r.configMaps, o.configMaps)
	merge(&r.secrets, o.secrets)
	merge(&r.claims, o.claims)
	if r.serviceAccount == "" {
		r.serviceAccount = o.serviceAccount
	}
}

// namedKind is the names of one kind of reference: "configmap" in text, "configmaps"
// as the evidence key.
type namedKind struct {
	kind, key string
	names     []string
}

// kinds lists the names by kind, in a fixed order.
func (r podRefs) kinds() []namedKind {
	var sa []string
	if r.serviceAccount != "" {
		sa = []string{r.serviceAccount}
	}
	return []namedKind{
		{"configmap", "configmaps", slices.Sorted(slices.Values(r.configMaps))},
		{"secret", "secrets", slices.Sorted(slices.Values(r.secrets))},
		{"persistentvolumeclaim", "persistentvolumeclaims", slices.Sorted(slices.Values(r.claims))},
		{"serviceaccount", "serviceaccount", sa},
	}
}

func (r podRefs) text() string {
	var parts []string
	for _, k := range r.kinds() {
		for _, n := range k.names {
			parts = append(parts, k.kind+" "+n)
		}
	}
	return strings.Join(parts, ", ")
}

func (r podRefs) evidence() map[string]string {
	ev := map[string]string{}
	for _, k := range r.kinds() {
		if len(k.names) > 0 {
			ev[k.key] = strings.Join(k.names, ",")
		}
	}
	return ev
}

// existing holds the "namespace/name" of what exists, by kind. secrets is nil when
// Secrets are not checked.
type existing struct {
	configMaps, secrets, claims, serviceAccounts map[string]bool
}

// existingRefs reads the names of ConfigMaps and Secrets in namespace ns ("" = all)
// as metadata only (no data leaves the apiserver), and PersistentVolumeClaims and
// ServiceAccounts through the round's shared lists.
func existingRefs(ctx context.Context, c *conn, ns string, withSecrets bool) (existing, error) {
	var have existing
	var err error
	if have.configMaps, err = objectNames(ctx, c, "configmaps", ns); err != nil {
		return existing{}, err
	}
	if withSecrets {
		if have.secrets, err = objectNames(ctx, c, "secrets", ns); err != nil {
			return existing{}, fmt.Errorf("%w; or pass secrets=false to leave Secret references unchecked", err)
		}
	}
	claims, err := read(ctx, c, pvcsKind)
	if err != nil {
		return existing{}, err
	}
	have.claims = make(map[string]bool, len(claims))
	for _, pvc := range claims {
		have.claims[pvc.Namespace+"/"+pvc.Name] = true
	}
	accounts, err := read(ctx, c, serviceAccountsKind)
	if err != nil {
		return existing{}, err
	}
	have.serviceAccounts = make(map[string]bool, len(accounts))
	for _, sa := range accounts {
		have.serviceAccounts[sa.Namespace+"/"+sa.Name] = true
	}
	return have, nil
}

// refsOnlyEnv keeps the environment variables that take their value from a ConfigMap
// or a Secret, and only the reference (k8s.refs.missing); the others are dropped.
func refsOnlyEnv(env []corev1.EnvVar) []corev1.EnvVar {
	n := 0
	for _, e := range env {
		if e.ValueFrom != nil && (e.ValueFrom.ConfigMapKeyRef != nil || e.ValueFrom.SecretKeyRef != nil) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]corev1.EnvVar, 0, n)
	for _, e := range env {
		if v := e.ValueFrom; v != nil && (v.ConfigMapKeyRef != nil || v.SecretKeyRef != nil) {
			v.FieldRef, v.ResourceFieldRef = nil, nil
			out = append(out, corev1.EnvVar{ValueFrom: v})
		}
	}
	return out
}

// refsOnlyVolume keeps what the checks read of a volume: a hostPath whole
// (k8s.pods.privileged), and only the names of the ConfigMaps, Secrets and claims it
// mounts (k8s.refs.missing). It reports false for a volume nothing reads.
func refsOnlyVolume(v corev1.Volume) (corev1.Volume, bool) {
	switch {
	case v.HostPath != nil:
		return v, true
	case v.ConfigMap != nil:
		return corev1.Volume{VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: v.ConfigMap.LocalObjectReference, Optional: v.ConfigMap.Optional}}}, true
	case v.Secret != nil:
		return corev1.Volume{VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: v.Secret.SecretName, Optional: v.Secret.Optional}}}, true
	case v.PersistentVolumeClaim != nil:
		return corev1.Volume{VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.PersistentVolumeClaim.ClaimName}}}, true
	case v.Projected != nil:
		var srcs []corev1.VolumeProjection
		for _, src := range v.Projected.Sources {
			switch {
			case src.ConfigMap != nil:
				srcs = append(srcs, corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: src.ConfigMap.LocalObjectReference, Optional: src.ConfigMap.Optional}})
			case src.Secret != nil:
				srcs = append(srcs, corev1.VolumeProjection{Secret: &corev1.SecretProjection{LocalObjectReference: src.Secret.LocalObjectReference, Optional: src.Secret.Optional}})
			}
		}
		if len(srcs) == 0 {
			return corev1.Volume{}, false
		}
		return corev1.Volume{VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: srcs}}}, true
	}
	return corev1.Volume{}, false
}
