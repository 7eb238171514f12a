package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// quota creates a ResourceQuota and writes the use the quota controller would.
func quota(t *testing.T, ns, name string, hard, used corev1.ResourceList) {
	t.Helper()
	q, err := env.Client.CoreV1().ResourceQuotas(ns).Create(t.Context(), &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       corev1.ResourceQuotaSpec{Hard: hard},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setQuotaUse(t, q, used)
}

func setQuotaUse(t *testing.T, q *corev1.ResourceQuota, used corev1.ResourceList) {
	t.Helper()
	q.Status = corev1.ResourceQuotaStatus{Hard: q.Spec.Hard, Used: used}
	if _, err := env.Client.CoreV1().ResourceQuotas(q.Namespace).UpdateStatus(t.Context(), q, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status of quota %s: %v", q.Name, err)
	}
}

func TestQuotaExhausted(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	list := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = mustQuantity(kv[i+1])
		}
		return l
	}
	quota(t, ns, "full", list("pods", "10", "requests.cpu", "4"), list("pods", "10", "requests.cpu", "1"))
	quota(t, ns, "near", list("requests.memory", "10Gi"), list("requests.memory", "9500Mi"))
	// Healthy look-alikes: room left, and a zero limit that forbids a resource.
	quota(t, ns, "fine", list("pods", "10"), list("pods", "3"))
	quota(t, ns, "forbid", list("services.loadbalancers", "0"), list("services.loadbalancers", "0"))

	params := map[string]string{"namespace": ns}
	expect(t, "k8s.quota.exhausted", found(t, p, "k8s.quota.exhausted", params),
		"resourcequota/"+ns+"/full quota_exhausted high",
		"resourcequota/"+ns+"/near quota_near_limit medium",
	)
	res, err := run(t, p, "k8s.quota.exhausted", params)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if f.Problem == "quota_exhausted" && (f.Evidence["pods"] != "10/10 (100%)" || f.Evidence["requests.cpu"] != "") {
			t.Errorf("full evidence: %v", f.Evidence)
		}
		if f.Problem == "quota_near_limit" && f.Evidence["requests.memory"] != "9500Mi/10Gi (92%)" {
			t.Errorf("near evidence: %v", f.Evidence)
		}
	}
	expect(t, "threshold=95", found(t, p, "k8s.quota.exhausted", map[string]string{"namespace": ns, "threshold": "95"}),
		"resourcequota/"+ns+"/full quota_exhausted high",
	)

	// Freeing pods resolves on the next run.
	q, err := env.Client.CoreV1().ResourceQuotas(ns).Get(t.Context(), "full", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setQuotaUse(t, q, list("pods", "5", "requests.cpu", "1"))
	expect(t, "after the fix", found(t, p, "k8s.quota.exhausted", params),
		"resourcequota/"+ns+"/near quota_near_limit medium",
	)
}
