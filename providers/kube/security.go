package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/clankerd/clankerd/checks"
)

// workloadFindings collects findings per workload and problem, so that the replicas
// of one Deployment make one finding, not one per pod.
type workloadFindings struct {
	byKey map[string]*checks.Finding
	order []string
}

func (w *workloadFindings) add(resource, problem string, sev checks.Severity, summary, fix string, evidence map[string]string, containers ...string) {
	if w.byKey == nil {
		w.byKey = map[string]*checks.Finding{}
	}
	key := resource + "\x00" + problem
	f, ok := w.byKey[key]
	if !ok {
		f = &checks.Finding{Resource: resource, Problem: problem, Severity: sev, Summary: summary, Fix: fix, Evidence: map[string]string{}}
		for k, v := range evidence {
			f.Evidence[k] = v
		}
		w.byKey[key] = f
		w.order = append(w.order, key)
	}
	for _, c := range containers {
		if !strings.Contains(","+f.Evidence["containers"]+",", ","+c+",") {
			f.Evidence["containers"] = joinSorted(f.Evidence["containers"], c)
		}
	}
}

// byWorkload reads the pods in scope and lets inspect add findings about each pod's
// workload, so that the replicas of one Deployment make one finding.
func byWorkload(ctx context.Context, c *conn, s scope, inspect func(pod *compactPod, res string, w *workloadFindings)) ([]checks.Finding, error) {
	pods, err := readPods(ctx, c)
	if err != nil {
		return nil, err
	}
	var w workloadFindings
	for _, pod := range inScope(s, pods) {
		inspect(pod, pod.workload, &w)
	}
	return w.list(), nil
}

func (w *workloadFindings) list() []checks.Finding {
	out := make([]checks.Finding, len(w.order))
	for i, k := range w.order {
		out[i] = *w.byKey[k]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

func (p *Provider) podsPrivileged(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
	return byWorkload(ctx, c, s, func(pod *compactPod, res string, w *workloadFindings) {
		spec := pod.spec
		var hostNS []string
		for name, on := range map[string]bool{"hostNetwork": spec.HostNetwork, "hostPID": spec.HostPID, "hostIPC": spec.HostIPC} {
			if on {
				hostNS = append(hostNS, name)
			}
		}
		if len(hostNS) > 0 {
			sort.Strings(hostNS)
			w.add(res, "host_namespace", checks.High, fmt.Sprintf("%s shares the node's namespaces (%s)", res, strings.Join(hostNS, ",")),
				"drop hostNetwork/hostPID/hostIPC unless it is a node agent", map[string]string{"host": strings.Join(hostNS, ",")})
		}
		for _, v := range spec.Volumes {
			if v.HostPath != nil {
				w.add(res, "host_path", checks.High, fmt.Sprintf("%s mounts a path of the node's filesystem", res),
					"use a persistent volume or emptyDir instead of hostPath", map[string]string{"path": v.HostPath.Path})
			}
		}
		podNonRoot := spec.SecurityContext != nil && (isTrue(spec.SecurityContext.RunAsNonRoot) || positive(spec.SecurityContext.RunAsUser))
		podRoot := spec.SecurityContext != nil && zero(spec.SecurityContext.RunAsUser)
		for ctr := range containersOf(spec) {
			sc := ctr.SecurityContext
			if sc != nil && isTrue(sc.Privileged) {
				w.add(res, "privileged", checks.Critical, fmt.Sprintf("%s runs privileged containers: root on the node", res),
					"remove privileged: true; grant only the capabilities needed", nil, ctr.Name)
			}
			if sc != nil && isTrue(sc.AllowPrivilegeEscalation) && !isTrue(sc.Privileged) {
				w.add(res, "privilege_escalation", checks.Medium, fmt.Sprintf("%s allows privilege escalation", res),
					"set allowPrivilegeEscalation: false", nil, ctr.Name)
			}
			ctrRoot := sc != nil && zero(sc.RunAsUser)
			ctrNonRoot := sc != nil && (isTrue(sc.RunAsNonRoot) || positive(sc.RunAsUser))
			switch {
			case ctrRoot || podRoot && !ctrNonRoot:
				w.add(res, "runs_as_root", checks.Medium, fmt.Sprintf("%s runs containers as root (runAsUser: 0)", res),
					"run as a non-root user: runAsNonRoot: true and a runAsUser above 0", map[string]string{"run_as_user": "0"}, ctr.Name)
			case !ctrNonRoot && !podNonRoot:
				w.add(res, "may_run_as_root", checks.Low, fmt.Sprintf("%s does not forbid running as root", res),
					"set runAsNonRoot: true in the pod's securityContext", nil, ctr.Name)
			}
		}
	})
}

func isTrue(b *bool) bool    { return b != nil && *b }
func zero(n *int64) bool     { return n != nil && *n == 0 }
func positive(n *int64) bool { return n != nil && *n > 0 }

func (p *Provider) imagesLatest(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
	return byWorkload(ctx, c, s, func(pod *compactPod, res string, w *workloadFindings) {
		for ctr := range containersOf(pod.spec) {
			tag, ok := floatingTag(ctr.Image)
			if !ok {
				continue
			}
			w.add(res, "latest_tag", checks.Low, fmt.Sprintf("%s runs an image without a fixed version (%s)", res, tag),
				"pin the image to a version tag or digest", map[string]string{"image": ctr.Image}, ctr.Name)
		}
	})
}

// floatingTag reports images that name no fixed version: ":latest" or no tag, and no
// digest.
func floatingTag(image string) (string, bool) {
	if strings.Contains(image, "@") {
		return "", false
	}
	name := image[strings.LastIndex(image, "/")+1:]
	tag := ""
	if i := strings.LastIndex(name, ":"); i >= 0 {
		tag = name[i+1:]
	}
	switch tag {
	case "":
		return "untagged", true
	case "latest":
		return ":latest", true
	}
	return "", false
}

func (p *Provider) resourcesMissing(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
	return byWorkload(ctx, c, s, func(pod *compactPod, res string, w *workloadFindings) {
		for _, ctr := range pod.spec.Containers {
			r := ctr.Resources
			var missing []string
			if _, ok := r.Requests[corev1.ResourceCPU]; !ok {
				missing = append(missing, "cpu request")
			}
			if _, ok := r.Requests[corev1.ResourceMemory]; !ok {
				missing = append(missing, "memory request")
			}
			if len(missing) > 0 {
				w.add(res, "no_requests", checks.Low, fmt.Sprintf("%s has containers without resource requests: the scheduler cannot place them well", res),
					"set resources.requests for cpu and memory", map[string]string{"missing": strings.Join(missing, ",")}, ctr.Name)
			}
			if _, ok := r.Limits[corev1.ResourceMemory]; !ok {
				w.add(res, "no_memory_limit", checks.Low, fmt.Sprintf("%s has containers without a memory limit: one leak can starve the node", res),
					"set resources.limits.memory", nil, ctr.Name)
			}
		}
	})
}
