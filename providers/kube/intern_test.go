package kube

import (
	"reflect"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sameMap reports whether two maps are one map.
func sameMap[M ~map[K]V, K comparable, V any](a, b M) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func sameString(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

// replica is a pod as a ReplicaSet makes them: decoded separately, equal but for
// its name.
func replica(name string, labels map[string]string, memory string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: string([]byte("shop")), Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: string([]byte("web-6b7d9")), UID: "u1"}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: string([]byte("registry.example/web:1.2")),
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memory)}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func TestInternerSharesEqualParts(t *testing.T) {
	in := newInterner(0)
	a := replica("web-1", map[string]string{"app": "web", "tier": "front"}, "128Mi")
	b := replica("web-2", map[string]string{"tier": "front", "app": "web"}, "128Mi")
	c := replica("web-3", map[string]string{"app": "web", "tier": "back"}, "256Mi")
	want := []corev1.Pod{*a.DeepCopy(), *b.DeepCopy(), *c.DeepCopy()}
	for _, p := range []*corev1.Pod{a, b, c} {
		in.object(p)
	}
	for i, p := range []*corev1.Pod{a, b, c} {
		if !reflect.DeepEqual(*p, want[i]) {
			t.Errorf("interning changed %s:\n got %+v\nwant %+v", p.Name, *p, want[i])
		}
	}
	if !sameMap(a.Labels, b.Labels) || sameMap(a.Labels, c.Labels) {
		t.Error("equal label sets should share one map, different ones not")
	}
	ar, br, cr := a.Spec.Containers[0].Resources.Requests, b.Spec.Containers[0].Resources.Requests, c.Spec.Containers[0].Resources.Requests
	if !sameMap(ar, br) || sameMap(ar, cr) {
		t.Error("equal resource lists should share one map, different ones not")
	}
	if &a.Spec.Containers[0] != &b.Spec.Containers[0] || &a.Spec.Containers[0] == &c.Spec.Containers[0] {
		t.Error("equal containers should share one slice, different ones not")
	}
	if &a.OwnerReferences[0] != &c.OwnerReferences[0] {
		t.Error("equal owner references should share one slice")
	}
	for _, pair := range [][2]string{
		{a.Namespace, c.Namespace},
		{a.Spec.Containers[0].Image, c.Spec.Containers[0].Image},
		{a.OwnerReferences[0].Name, c.OwnerReferences[0].Name},
	} {
		if !sameString(pair[0], pair[1]) {
			t.Errorf("%q is not shared", pair[0])
		}
	}
}

func TestInternerStartsOverAtItsLimit(t *testing.T) {
	in := newInterner(4)
	for _, ns := range []string{"a", "b", "c", "d", "e", "f"} {
		in.object(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: ns}})
	}
	if n := len(in.strs); n > 4 {
		t.Errorf("the table holds %d strings, over its limit of 4", n)
	}
}
