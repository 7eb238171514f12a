package kube

import (
	"fmt"
	"maps"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/checks"
)

// hpa creates an autoscaler of a target and writes the status its controller would.
func hpa(t *testing.T, ns, name, kind, target string, current, maxReplicas int32, conds ...autoscalingv2.HorizontalPodAutoscalerCondition) {
	t.Helper()
	api := env.Client.AutoscalingV2().HorizontalPodAutoscalers(ns)
	h, err := api.Create(t.Context(), &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: kind, Name: target},
			MinReplicas:    ptr(int32(1)), MaxReplicas: maxReplicas,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setHPAStatus(t, h, current, conds...)
}

func setHPAStatus(t *testing.T, h *autoscalingv2.HorizontalPodAutoscaler, current int32, conds ...autoscalingv2.HorizontalPodAutoscalerCondition) {
	t.Helper()
	h.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: current, DesiredReplicas: current, Conditions: conds}
	if _, err := env.Client.AutoscalingV2().HorizontalPodAutoscalers(h.Namespace).UpdateStatus(t.Context(), h, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status of hpa %s: %v", h.Name, err)
	}
}

func hpaCond(typ autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason string, since time.Duration) autoscalingv2.HorizontalPodAutoscalerCondition {
	return autoscalingv2.HorizontalPodAutoscalerCondition{Type: typ, Status: status, Reason: reason, Message: "planted", LastTransitionTime: ago(since)}
}

func TestHPABroken(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	deployment(t, ns, "web", 2, "", "")
	deployment(t, ns, "idle", 0, "", "")
	statefulSet(t, ns, "db", 5, "", "")
	if _, err := env.Client.AppsV1().ReplicaSets(ns).Create(t.Context(), &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "plain"}}, Template: podTemplate("plain")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	active := hpaCond(autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", time.Hour)
	within := hpaCond(autoscalingv2.ScalingLimited, corev1.ConditionFalse, "DesiredWithinRange", time.Hour)

	// Healthy look-alikes.
	hpa(t, ns, "ok", "Deployment", "web", 2, 5, active, within)
	hpa(t, ns, "rs", "ReplicaSet", "plain", 1, 3, active, within)
	hpa(t, ns, "atmin", "Deployment", "web", 1, 5, active, hpaCond(autoscalingv2.ScalingLimited, corev1.ConditionTrue, "TooFewReplicas", 5*time.Hour))
	hpa(t, ns, "zero", "Deployment", "idle", 0, 5, hpaCond(autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", 5*time.Hour))
	hpa(t, ns, "justmaxed", "Deployment", "web", 5, 5, active, hpaCond(autoscalingv2.ScalingLimited, corev1.ConditionTrue, "TooManyReplicas", 10*time.Minute))
	// Problems.
	hpa(t, ns, "orphan", "Deployment", "gone", 0, 5)
	hpa(t, ns, "orphanrs", "ReplicaSet", "gone", 0, 5)
	hpa(t, ns, "nometrics", "Deployment", "web", 2, 5, hpaCond(autoscalingv2.ScalingActive, corev1.ConditionFalse, "FailedGetResourceMetric", time.Hour))
	hpa(t, ns, "maxed", "StatefulSet", "db", 5, 5, active, hpaCond(autoscalingv2.ScalingLimited, corev1.ConditionTrue, "TooManyReplicas", 3*time.Hour))

	params := map[string]string{"namespace": ns}
	res, err := run(t, p, "k8s.hpa.broken", params)
	if err != nil {
		t.Fatal(err)
	}
	// Half an hour later the same autoscalers are described the same way (no countdown
	// that would make every run "changed").
	later, err := run(t, cluster(t, Options{Now: func() time.Time { return time.Now().Add(30 * time.Minute) }}), "k8s.hpa.broken", params)
	if err != nil {
		t.Fatal(err)
	}
	described := func(fs []checks.Finding) map[string]string {
		out := map[string]string{}
		for _, f := range fs {
			out[f.Resource+" "+f.Problem] = f.Summary + fmt.Sprint(f.Evidence)
		}
		return out
	}
	if a, b := described(res.Findings), described(later.Findings); !maps.Equal(a, b) {
		t.Errorf("findings change between runs:\n%v\n%v", a, b)
	}
	for _, f := range res.Findings {
		if f.Resource == "horizontalpodautoscaler/"+ns+"/nometrics" && (f.Evidence["reason"] != "FailedGetResourceMetric" || f.Evidence["message"] != "planted") {
			t.Errorf("metrics evidence: %v", f.Evidence)
		}
		if f.Resource == "horizontalpodautoscaler/"+ns+"/maxed" && (f.Evidence["max_replicas"] != "5" || f.Evidence["current_replicas"] != "5") {
			t.Errorf("maxed evidence: %v", f.Evidence)
		}
	}
	expect(t, "k8s.hpa.broken", found(t, p, "k8s.hpa.broken", params),
		"horizontalpodautoscaler/"+ns+"/orphan target_missing high",
		"horizontalpodautoscaler/"+ns+"/orphanrs target_missing high",
		"horizontalpodautoscaler/"+ns+"/nometrics metrics_unavailable high",
		"horizontalpodautoscaler/"+ns+"/maxed at_max_replicas medium",
	)
	// A longer for= forgives the autoscaler held at its maximum for 3 hours.
	expect(t, "for=4h", found(t, p, "k8s.hpa.broken", map[string]string{"namespace": ns, "for": "4h"}),
		"horizontalpodautoscaler/"+ns+"/orphan target_missing high",
		"horizontalpodautoscaler/"+ns+"/orphanrs target_missing high",
		"horizontalpodautoscaler/"+ns+"/nometrics metrics_unavailable high",
	)

	// Fixing resolves on the next run: the target appears, the metrics come back.
	deployment(t, ns, "gone", 1, "", "")
	h, err := env.Client.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(t.Context(), "nometrics", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setHPAStatus(t, h, 2, active, within)
	expect(t, "after the fix", found(t, p, "k8s.hpa.broken", params),
		"horizontalpodautoscaler/"+ns+"/orphanrs target_missing high",
		"horizontalpodautoscaler/"+ns+"/maxed at_max_replicas medium",
	)
}
