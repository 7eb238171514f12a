package kube

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/clankerd/clankerd/checks"
)

// podProblem is one kind of trouble a pod's containers are in.
type podProblem struct {
	problem  string
	severity checks.Severity
	summary  string
	fix      string
}

// waitingProblems maps container waiting reasons to what they mean.
var waitingProblems = map[string]podProblem{
	"CrashLoopBackOff":           {"crashloop", checks.High, "is in CrashLoopBackOff", "read the logs of the previous run: kubectl logs --previous"},
	"ImagePullBackOff":           {"image_pull", checks.High, "cannot pull its image", "check the image name, tag and registry credentials (imagePullSecrets)"},
	"ErrImagePull":               {"image_pull", checks.High, "cannot pull its image", "check the image name, tag and registry credentials (imagePullSecrets)"},
	"InvalidImageName":           {"image_pull", checks.High, "has an invalid image name", "fix the image reference"},
	"CreateContainerConfigError": {"config_error", checks.High, "cannot be created: a ConfigMap, Secret or key it needs is missing", "kubectl describe pod shows which reference is missing"},
	"CreateContainerError":       {"config_error", checks.High, "cannot be created", "kubectl describe pod shows why"},
}

func (p *Provider) podsUnhealthy(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Finding, error) {
	pods, err := readPods(ctx, c)
	if err != nil {
		return nil, err
	}
	grace := params.Duration("for")
	now := p.now()
	var out []checks.Finding
	for _, pod := range inScope(s, pods) {
		res := ref("pod", pod)
		found := false
		add := func(pp podProblem, ev map[string]string) {
			found = true
			out = append(out, checks.Finding{
				Resource: res, Problem: pp.problem, Severity: pp.severity,
				Summary: fmt.Sprintf("pod %s/%s %s", pod.namespace, pod.name, pp.summary), Evidence: ev, Fix: pp.fix,
			})
		}
		switch pod.phase {
		case corev1.PodSucceeded:
			continue
		case corev1.PodFailed:
			if pod.reason() == "Evicted" {
				add(podProblem{"evicted", checks.Medium, "was evicted", "see why in its status message; it will not restart by itself"},
					map[string]string{"reason": "Evicted", "message": pod.message()})
			} else {
				add(podProblem{"failed", checks.High, "failed", "kubectl describe pod and read its logs"},
					map[string]string{"reason": pod.reason()})
			}
			continue
		}
		for _, pp := range containerProblems(pod) {
			add(pp.podProblem, pp.evidence)
		}
		if cond := pod.scheduled; cond != nil && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
			add(podProblem{"unschedulable", checks.High, "cannot be scheduled", "the message says which resource or constraint no node satisfies"},
				map[string]string{"reason": cond.Reason, "message": cond.Message})
		}
		if found {
			continue
		}
		switch ready := pod.ready; {
		case pod.phase == corev1.PodPending && now.Sub(pod.created) > grace:
			add(podProblem{"pending", checks.Medium, fmt.Sprintf("has been Pending for more than %s", grace), "kubectl describe pod shows what it waits for"},
				map[string]string{"phase": "Pending"})
		case pod.phase == corev1.PodRunning && ready != nil && ready.Status != corev1.ConditionTrue && now.Sub(ready.LastTransitionTime.Time) > grace:
			add(podProblem{"not_ready", checks.Medium, fmt.Sprintf("has not been Ready for more than %s", grace), "check its readiness probe and logs"},
				map[string]string{"ready": string(ready.Status), "reason": ready.Reason})
		}
	}
	return out, nil
}

type containerProblem struct {
	podProblem
	evidence map[string]string
}

// containerProblems groups the containers of a pod by problem: one finding per pod
// and problem, naming the containers.
func containerProblems(pod *compactPod) []containerProblem {
	byProblem := map[string]*containerProblem{}
	var order []string
	note := func(pp podProblem, container, reason string) {
		cp, ok := byProblem[pp.problem]
		if !ok {
			cp = &containerProblem{podProblem: pp, evidence: map[string]string{"reason": reason}}
			byProblem[pp.problem] = cp
			order = append(order, pp.problem)
		}
		cp.evidence["containers"] = joinSorted(cp.evidence["containers"], container)
	}
	for _, statuses := range [][]containerStatus{pod.initStatuses(), pod.statuses()} {
		for _, cs := range statuses {
			if pp, ok := waitingProblems[cs.waiting]; ok {
				note(pp, cs.name, cs.waiting)
			}
			if cs.lastTerminated == "OOMKilled" || cs.terminated == "OOMKilled" {
				note(podProblem{"oomkilled", checks.High, "was OOMKilled", "raise the container's memory limit or fix its memory use"}, cs.name, "OOMKilled")
			}
		}
	}
	out := make([]containerProblem, len(order))
	for i, k := range order {
		out[i] = *byProblem[k]
	}
	return out
}

func joinSorted(list, add string) string {
	parts := []string{add}
	if list != "" {
		parts = append(strings.Split(list, ","), add)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (p *Provider) podsRestarts(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Finding, error) {
	pods, err := readPods(ctx, c)
	if err != nil {
		return nil, err
	}
	threshold := params.Int("threshold")
	var out []checks.Finding
	for _, pod := range inScope(s, pods) {
		total, worst, worstName := 0, 0, ""
		for _, cs := range pod.statuses() {
			total += int(cs.restarts)
			if int(cs.restarts) > worst {
				worst, worstName = int(cs.restarts), cs.name
			}
		}
		if total <= threshold {
			continue
		}
		sev := checks.Medium
		if total > 10*threshold {
			sev = checks.High
		}
		out = append(out, checks.Finding{
			Resource: ref("pod", pod), Problem: "restarts", Severity: sev,
			Summary:  fmt.Sprintf("pod %s/%s restarted %d times (threshold %d), most in container %s", pod.namespace, pod.name, total, threshold, worstName),
			Evidence: map[string]string{"restarts": strconv.Itoa(total), "threshold": strconv.Itoa(threshold), "container": worstName},
			Fix:      "read the logs of the previous runs: kubectl logs --previous",
		})
	}
	return out, nil
}
