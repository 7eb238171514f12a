package kube

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/checks"
)

// decodedReplica is a pod of ReplicaSet web-6b7d9 as a page decodes it: its own copy
// of everything, with what no check reads set too.
func decodedReplica(name string, restarts int32) *corev1.Pod {
	yes := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "shop", Labels: map[string]string{"app": "web", "pod-template-hash": "6b7d9"},
			CreationTimestamp: metav1.NewTime(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)),
			OwnerReferences:   []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-6b7d9", UID: "u1", Controller: &yes}},
			ManagedFields:     []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Spec: corev1.PodSpec{
			NodeName: "node-" + name, Hostname: name,
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.example/web:1.2", Command: []string{"/web"},
				Env: []corev1.EnvVar{{Name: "MODE", Value: "prod"}, {Name: "KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "web-keys"}, Key: "k"}}}},
				Ports:     []corev1.ContainerPort{{ContainerPort: 8080}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: mustQuantity("128Mi")}},
			}},
			Volumes: []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-cfg"}}}}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.0.0.1",
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue},
				{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", RestartCount: restarts, ContainerID: "containerd://" + name,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled"}},
			}},
		},
	}
}

// compactFromPage converts a decoded pod as a list's page does.
func compactFromPage(in *interner, p *corev1.Pod) *compactPod {
	slimPodSpec(&p.Spec)
	return in.compactPod(p, in.checkedSpec(&p.Spec))
}

func TestCompactPodKeepsWhatChecksRead(t *testing.T) {
	in := newInterner(0)
	got := compactFromPage(in, decodedReplica("web-1", 3))
	want := &compactPod{
		compactMeta: compactMeta{name: "web-1", namespace: "shop", labels: map[string]string{"app": "web", "pod-template-hash": "6b7d9"}},
		created:     time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC),
		workload:    "deployment/shop/web", controller: "ReplicaSet",
		phase:      corev1.PodRunning,
		ready:      &corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		scheduled:  &corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		containers: &podContainers{main: []containerStatus{{name: "app", waiting: "CrashLoopBackOff", lastTerminated: "OOMKilled", restarts: 3}}},
		spec: &checkedPodSpec{
			Volumes: []corev1.Volume{{VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-cfg"}}}}},
			Containers: []checkedContainer{{
				Name: "app", Image: "registry.example/web:1.2",
				Env: []corev1.EnvVar{{ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "web-keys"}, Key: "k"}}}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: mustQuantity("128Mi")}},
			}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("compact pod:\n got %+v\nwant %+v", got, want)
	}
	evicted := compactFromPage(in, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: "shop"},
		Status:     corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "low on memory"},
	})
	if evicted.workload != "pod/shop/bare" || evicted.controller != "" {
		t.Errorf("a bare pod answers for itself: workload %q, controller %q", evicted.workload, evicted.controller)
	}
	if evicted.reason() != "Evicted" || evicted.message() != "low on memory" || !evicted.finished() || evicted.statuses() != nil {
		t.Errorf("evicted pod: reason %q, message %q, finished %t, statuses %v", evicted.reason(), evicted.message(), evicted.finished(), evicted.statuses())
	}
}

func TestCompactPodsShareWhatReplicasRepeat(t *testing.T) {
	in := newInterner(0)
	a, b := compactFromPage(in, decodedReplica("web-1", 0)), compactFromPage(in, decodedReplica("web-2", 0))
	c := compactFromPage(in, decodedReplica("web-3", 5))
	if a.spec != b.spec || a.spec != c.spec {
		t.Error("replicas differing only in node name and hostname should share one spec")
	}
	if a.containers != b.containers || a.containers == c.containers {
		t.Error("equal container statuses should share one slice, different ones not")
	}
	if a.ready != b.ready || !sameMap(a.labels, c.labels) || !sameString(a.workload, c.workload) {
		t.Error("conditions, labels and the workload's name should be shared")
	}
}

// The daemon's rounds convert only the pods the watch cache got new since the last.
func TestWatchedPodsConvertOnlyWhatChanged(t *testing.T) {
	p := cluster(t, Options{Watch: true})
	ns := namespace(t)
	plainPods(t, ns, map[string]string{"v": "1"}, "same", "changes")
	c := connected(t, p)
	pods := env.Client.CoreV1().Pods(ns)
	round := func() map[string]*compactPod {
		t.Helper()
		all, err := readPods(checks.WithRound(t.Context(), checks.NewRound()), c)
		if err != nil {
			t.Fatal(err)
		}
		mine := map[string]*compactPod{}
		for _, pd := range all {
			if pd.namespace == ns {
				mine[pd.name] = pd
			}
		}
		return mine
	}
	var first map[string]*compactPod
	for deadline := time.Now().Add(10 * time.Second); len(first) < 2; first = round() {
		if time.Now().After(deadline) {
			t.Fatalf("the watch cache has %d of the 2 pods", len(first))
		}
	}
	pd, err := pods.Get(t.Context(), "changes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pd.Labels["v"] = "2"
	if _, err := pods.Update(t.Context(), pd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var second map[string]*compactPod
	for deadline := time.Now().Add(10 * time.Second); second["changes"] == nil || second["changes"].labels["v"] != "2"; second = round() {
		if time.Now().After(deadline) {
			t.Fatal("the watch cache did not see the update")
		}
	}
	if second["same"] != first["same"] {
		t.Error("an unchanged pod was converted again")
	}
	if second["changes"] == first["changes"] {
		t.Error("a changed pod kept its old compact form")
	}
}

// plainPods creates pods of one container, named names, in ns.
func plainPods(t *testing.T, ns string, labels map[string]string, names ...string) {
	t.Helper()
	for _, name := range names {
		_, err := env.Client.CoreV1().Pods(ns).Create(t.Context(), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example/x:1"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// connected returns the provider's connection to the current context.
func connected(t *testing.T, p *Provider) *conn {
	t.Helper()
	c, err := p.connect("")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
